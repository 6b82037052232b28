//! The crate's layers, as `docs/CONTRIBUTING.md` ("Development") draws them: Google's Takeout
//! (`takeout/`) and our library (`library/`) side by side over the ground (`metadata/`, names,
//! dates, hashing, the compact collections, the options), the two commands (`process/`,
//! `verify/`) on top, never importing each other. This test reads `src/` and fails on an import
//! that runs against that direction, and on a circle between the modules of one wing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level module may import besides itself (`*`: anything).
const ALLOWED: &[(&str, &[&str])] = &[
    ("metadata", &[]),
    ("names", &[]),
    ("dates", &[]),
    ("hash", &[]),
    ("compact", &["hash"]),
    ("alloc", &[]),
    ("cli", &[]),
    ("words", &[]),
    (
        "takeout",
        &["metadata", "names", "dates", "hash", "compact", "words"],
    ),
    (
        "library",
        &[
            "cli", "metadata", "names", "dates", "hash", "compact", "words",
        ],
    ),
    (
        "process",
        &[
            "takeout", "library", "cli", "metadata", "names", "dates", "hash", "compact", "alloc",
            "words",
        ],
    ),
    (
        "verify",
        &[
            "takeout", "library", "metadata", "names", "dates", "hash", "compact", "alloc", "words",
        ],
    ),
    // The guided mode: a conversation before `process`, over what both sides know.
    ("guide", &["takeout", "library", "process"]),
    // The fuzz targets' properties: test support over the whole crate.
    ("fuzzing", &["*"]),
];

/// A source file's module path (`src/process/plan/mod.rs` → `process::plan`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its comments and its test module (tests may reach anywhere).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module path a piece of code names, resolved from the module `me`: `crate::a::b`
/// and `super::…` paths (a `use` list counts as its prefix).
fn imports_of(me: &[String], code: &str) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let ident = |at: usize| {
        let end = bytes[at..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .map_or(bytes.len(), |n| at + n);
        (&code[at..end], end)
    };
    let path_from = |mut at: usize, mut path: Vec<String>| {
        while code[at..].starts_with("::") {
            let (name, end) = ident(at + 2);
            if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
                break;
            }
            path.push(name.to_string());
            at = end;
        }
        path
    };
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue;
        }
        found.insert(path_from(at + 5, Vec::new()));
    }
    for (at, _) in code.match_indices("super::") {
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b':') {
            continue;
        }
        let mut base = me.to_vec();
        let mut at = at;
        loop {
            base.pop();
            at += "super".len();
            if !code[at..].starts_with("::super::") {
                break;
            }
            at += "::".len();
        }
        found.insert(path_from(at, base));
    }
    found.retain(|p| !p.is_empty());
    found
}

struct Graph {
    /// Module (two levels deep: `process::plan`) → the modules it imports.
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn read_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for f in files {
        if f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let me = module_of(&src, &f);
        let code = code_of(&std::fs::read_to_string(&f).unwrap());
        for target in imports_of(&me, &code) {
            edges
                .entry(me.clone())
                .or_default()
                .insert(target.into_iter().take(2).collect());
        }
    }
    Graph { edges }
}

#[test]
fn no_import_runs_against_the_layers() {
    let graph = read_graph();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (from, targets) in &graph.edges {
        let Some(top) = from.first() else { continue };
        let Some(may) = allowed.get(top.as_str()) else {
            if top != "main" && !from.is_empty() {
                wrong.push(format!(
                    "{}: a top-level module the layers do not name",
                    top
                ));
            }
            continue;
        };
        for t in targets {
            let to = t[0].as_str();
            if to != top && !may.contains(&"*") && !may.contains(&to) {
                wrong.push(format!("{} imports {}", from.join("::"), t.join("::")));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_circle_between_the_modules_of_a_wing() {
    let graph = read_graph();
    // Edges between sibling modules two levels deep (`library::dir` → `library::manifest`); a
    // module's own parent (`process` holding `Options`) is its model, not a sibling.
    let mut sib: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (from, targets) in &graph.edges {
        let from2: Vec<String> = from.iter().take(2).cloned().collect();
        for t in targets {
            if from2.len() == 2 && t.len() == 2 && t[0] == from2[0] && *t != from2 {
                sib.entry(from2.clone()).or_default().insert(t.clone());
            }
        }
    }
    // A circle is an edge a → b where a is reachable from b.
    let reaches = |start: &Vec<String>, goal: &Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.clone()];
        while let Some(m) = todo.pop() {
            if &m == goal {
                return true;
            }
            if seen.insert(m.clone()) {
                todo.extend(sib.get(&m).into_iter().flatten().cloned());
            }
        }
        false
    };
    let mut circles = Vec::new();
    for (a, bs) in &sib {
        for b in bs {
            if reaches(b, a) {
                circles.push(format!(
                    "{} -> {} -> … -> {}",
                    a.join("::"),
                    b.join("::"),
                    a.join("::")
                ));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_reader_of_imports_sees_what_the_layers_test_needs() {
    let me: Vec<String> = vec!["process".into(), "plan".into(), "pairing".into()];
    let code = "use crate::library::manifest::{self, Line};\n\
                use super::super::policy::Rule;\n\
                let x = crate::hash::key128(&[], &[]);\n\
                use super::Plan;\n\
                let y = mycrate::nothing::here;";
    let got = imports_of(&me, &code_of(code));
    let want: BTreeSet<Vec<String>> = [
        vec!["library", "manifest"],
        vec!["process", "policy"],
        vec!["hash", "key128"],
        vec!["process", "plan"],
    ]
    .into_iter()
    .map(|p| p.into_iter().map(String::from).collect())
    .collect();
    assert_eq!(got, want);
    assert_eq!(
        code_of("use crate::a; // crate::b\n#[cfg(test)]\nmod tests { use crate::c; }"),
        "use crate::a; "
    );
}
