//! Command-line conventions: shell completions, the man page, `NO_COLOR`, `-v`.

use crate::common::*;
use std::process::Command;

fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gpbackup"));
    c.args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run gpbackup")
}

/// The long options `gpbackup SUB --help` lists.
fn long_options(sub: &str) -> Vec<String> {
    let help = String::from_utf8(run(&[sub, "--help"], &[]).stdout).unwrap();
    let mut opts: Vec<String> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches([',', '.', ')', ':'])
                .split(['=', '['])
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    opts.sort();
    opts.dedup();
    assert!(opts.len() > 5 || sub != "process", "{help}");
    opts
}

#[test]
fn completions_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef gpbackup"),
        ("fish", "complete -c gpbackup"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let o = run(&["completions", shell], &[]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = String::from_utf8(o.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["process", "verify", "overwrite-dates", "layout"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let o = run(&["completions", "tcsh-unknown"], &[]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn man_page_documents_every_option_and_renders() {
    let o = run(&["man"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = String::from_utf8(o.stdout).unwrap();
    assert!(page.contains(".TH gpbackup 1"), "{page}");
    for sub in ["process", "verify"] {
        assert!(page.contains(&format!("GPBACKUP {}", sub.to_uppercase())));
        for opt in long_options(sub) {
            // roff escapes each dash: \-\-dry\-run
            let roff = opt.replace('-', "\\-");
            assert!(page.contains(&roff), "man page lacks {sub} {opt}");
        }
    }
    assert!(page.contains("130"), "exit codes are in the man page");
    // One page holds every command: it names no other page (`gpbackup-process(1)`).
    assert_eq!(page.matches("(1)").count(), 0, "{page}");
    for sub in ["process", "verify", "completions", "man", "help"] {
        assert!(page.contains(&format!("\\fBgpbackup {sub}\\fR")), "{sub}");
    }
    assert!(page.is_ascii(), "plain ASCII roff renders everywhere");
    if have_tool("groff") {
        let path = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(path.path(), &page).unwrap();
        let g = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww"])
            .arg(path.path())
            .output()
            .unwrap();
        assert!(g.status.success());
        assert_eq!(String::from_utf8_lossy(&g.stderr), "", "groff warnings");
        assert!(String::from_utf8_lossy(&g.stdout).contains("Takeout"));
    }
}

#[test]
fn no_color_turns_colour_off() {
    let forced = run(&["process", "--bogus"], &[("CLICOLOR_FORCE", "1")]);
    assert!(
        forced.stderr.contains(&0x1b),
        "colour is on when forced: the check below can fail"
    );
    let plain = run(
        &["process", "--bogus"],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
    );
    assert_eq!(plain.status.code(), Some(2));
    assert!(!plain.stderr.contains(&0x1b), "{}", stderr(&plain));
}

#[test]
fn verbose_prints_one_line_per_media_file() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = fixture("plain.jpg");
    let mut t = Takeout::new(1);
    t.add(0, format!("{YEAR}/a.jpg"), jpeg_variant(&plain, "a"))
        .add(
            0,
            format!("{YEAR}/a.jpg.json"),
            sidecar("a.jpg", 1562253012, None),
        )
        .add(0, format!("{YEAR}/b.jpg"), jpeg_variant(&plain, "b"))
        .add(
            0,
            "Takeout/Google Photos/Album/a.jpg",
            jpeg_variant(&plain, "a"),
        );
    let zips = t.write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    let (o, report) = process(&zips, &out, &["-v"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), report["media"].as_array().unwrap().len());
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("written ") && l.ends_with("/a.jpg -> a.jpg")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("written without metadata ") && l.ends_with("-> b.jpg")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("duplicate ") && l.ends_with("Album/a.jpg = a.jpg")),
        "{lines:?}"
    );
    // Without -v, stdout stays empty: the summary is on stderr.
    let (o, _) = process(&zips, &tmp.path().join("quiet"), &[]);
    assert!(o.stdout.is_empty());
    // -q and -v together make no sense.
    let (o, _) = process(&zips, &tmp.path().join("both"), &["-q", "-v"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn inputs_without_process_are_a_process_run() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = Takeout::new(1);
    t.add(0, format!("{YEAR}/a.jpg"), photo("a")).add(
        0,
        format!("{YEAR}/a.jpg.json"),
        sidecar("a.jpg", 1562253012, None),
    );
    let zips = t.write(&tmp.path().join("in"));
    let typed = tmp.path().join("typed");
    let o = gpbackup(&[zips[0].as_os_str(), "-o".as_ref(), typed.as_os_str()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The same library as `process` writes, and `verify` passes on it.
    let explicit = tmp.path().join("explicit");
    let (o, _) = process(&zips, &explicit, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&typed), listing(&explicit));
    let v = gpbackup(&["verify".as_ref(), typed.as_os_str()]);
    assert!(v.status.success(), "{}", stderr(&v));
    // Options first, too.
    let first = tmp.path().join("options-first");
    let o = gpbackup(&["-o".as_ref(), first.as_os_str(), zips[0].as_os_str()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&first), listing(&explicit));
    // A missing part is named as a missing input, not as an unknown subcommand.
    let missing = tmp.path().join("takeout-20240101T000000Z-002.zip");
    let o = gpbackup(&[missing.as_os_str(), "-o".as_ref(), first.as_os_str()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!stderr(&o).contains("subcommand"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("takeout-20240101T000000Z-002.zip"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_mistyped_subcommand_is_still_explained() {
    let o = run(&["procss", "-o", "out"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("unrecognized subcommand 'procss'"), "{err}");
    assert!(
        err.contains("similar subcommand exists: 'process'"),
        "{err}"
    );
    // Help and the other commands are as they were.
    for args in [&["--help"][..], &["help"], &["help", "process"], &["-V"]] {
        let o = run(args, &[]);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(!o.stdout.is_empty(), "{args:?}");
    }
    let help = String::from_utf8(run(&["--help"], &[]).stdout).unwrap();
    assert!(
        help.contains("Commands:") && help.contains("verify"),
        "{help}"
    );
    let o = run(&["verify", "/nonexistent-gpbackup-library"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn help_names_only_files_whose_metadata_cannot_be_embedded() {
    let help = String::from_utf8(run(&["process", "--help"], &[]).stdout).unwrap();
    let xmp = help
        .split("--xmp")
        .nth(1)
        .and_then(|s| s.split("\n  -").next())
        .unwrap_or_else(|| panic!("{help}"));
    assert!(xmp.contains("GIF") && xmp.contains("RAW"), "{xmp}");
    // HEIC, HEIF, AVIF, PNG, WebP, TIFF, JPEG and MP4 carry their metadata in the file.
    for embedded in ["HEIC", "HEIF", "AVIF", "PNG", "WebP", "JPEG"] {
        assert!(!xmp.contains(embedded), "{embedded}: {xmp}");
    }
}
