//! The `gpbackup` command line: parses arguments and hands over to the library.

use std::ffi::{OsStr, OsString};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};

use gpbackup::cli::{AlbumsMode, EditedMode, Layout, LeaveOut, XmpMode};
use gpbackup::process::{self, Options, Report, StopReason};
use gpbackup::TimeZoneChoice;

// mimalloc returns freed memory to the system by itself, so peak RSS stays flat from one
// stage to the next and across many small files without heap trimming (glibc's arenas kept
// 3-5 times as much; benches/BENCHMARKS.md has the comparison, which
// `cargo build --no-default-features` reproduces with the system allocator). How soon it
// returns it is set per stage (the crate's `alloc` module).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How a command ended, as its exit code (the numbers `EXIT_CODES` and `VERIFY_EXIT_CODES`
/// explain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// Everything was done.
    Success = 0,
    /// The command could not be done or finished (an output not writable, a full disk).
    CouldNotFinish = 1,
    /// A bad option, or an input that is missing, empty or not a Takeout.
    Usage = 2,
    /// Done, with failures (or, for `verify`, findings) the summary lists.
    WithFailures = 3,
    /// Stopped by Ctrl-C (or SIGTERM, SIGHUP).
    Interrupted = 130,
}

impl Exit {
    /// The exit of an error that stopped a command: a usage error or not.
    fn of_error(usage: bool) -> Exit {
        if usage {
            Exit::Usage
        } else {
            Exit::CouldNotFinish
        }
    }

    /// `Success` when `ok`, else `WithFailures`.
    fn of_outcome(ok: bool) -> Exit {
        if ok {
            Exit::Success
        } else {
            Exit::WithFailures
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

const EXIT_CODES: &str = "\
Exit codes:
  0    every media file was written or found to be a duplicate
  1    the run could not be done or finished (output not writable, output disk full or
       too small for the library, ...)
  2    usage error: bad option, or an input that is missing, empty, or not a Takeout
  3    completed with failures: some media files could not be written, or a part was
       truncated or damaged (see the summary and the report)
  130  interrupted (Ctrl-C): run the same command again to finish";

/// Turn a Google Photos Takeout export into a dated, deduplicated photo folder.
///
/// gpbackup reads Takeout .zip and .tgz files without extracting them (or already extracted
/// Takeout folders), pairs every photo and video with its JSON sidecar, writes the date taken and the
/// location into the file's own metadata, sets its modification time, and writes each photo
/// once into a library folder (flat, or by date with --layout), with a record of the run.
///
/// Started without arguments on a terminal (or by a double-click), it asks where the Takeout
/// is and where the library goes, shows what it found, and asks before writing.
#[derive(Parser)]
#[command(name = "gpbackup", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read Takeout parts (.zip, .tgz) or folders and write the photo library.
    #[command(after_help = EXIT_CODES)]
    Process(ProcessArgs),
    /// Check an output folder against its manifest: re-hash every file, report missing and
    /// changed files, and list apart the files gpbackup did not write.
    #[command(after_help = VERIFY_EXIT_CODES)]
    Verify(VerifyArgs),
    /// Print a shell completion script: `gpbackup completions bash > ~/.local/share/bash-completion/completions/gpbackup`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `gpbackup man > gpbackup.1`.
    Man,
}

const VERIFY_EXIT_CODES: &str = "\
Exit codes:
  0  every file gpbackup wrote is as it was written (files of yours in the folder are
     listed apart; with --strict they fail the check); with --against: every photo and
     video of the inputs is in the library (left out on purpose only: the trash, --edited;
     with --strict those fail too)
  1  the check could not be done
  2  usage error: the folder is not a gpbackup output folder, or an input is not a Takeout
  3  files are missing, changed, or named outside the folder (with --strict: or not
     gpbackup's); with --against: some photos or videos of the inputs are not in the
     library (listed)";

#[derive(clap::Args)]
struct VerifyArgs {
    /// The output folder of `gpbackup process`.
    #[arg(value_name = "DIR")]
    dir: PathBuf,

    /// Number of worker threads [default: one per CPU core].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,

    /// Print only problems: no progress bar, no summary line.
    #[arg(short, long)]
    quiet: bool,

    /// Check instead that the library holds every photo and video of these Takeout parts
    /// (.zip, .tgz) or folders (all parts, in any grouping; they are only read): "can I
    /// delete my Takeout?"
    #[arg(long, value_name = "INPUT", num_args = 1.., required = false)]
    against: Vec<PathBuf>,

    /// With --against: read every entry and compare its content hash (as slow as a run);
    /// by default entries are matched by name, size and CRC-32 from the zips' directories
    /// (a .tgz is read whole either way).
    #[arg(long, requires = "against")]
    full: bool,

    /// Files in the folder that gpbackup did not write fail the check too (by default they
    /// are listed apart); with --against: photos left out on purpose (the trash, --edited)
    /// fail it too.
    #[arg(long)]
    strict: bool,

    /// With --against: write the full result as JSON to FILE.
    #[arg(long, value_name = "FILE", requires = "against")]
    report: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ProcessArgs {
    /// Takeout .zip or .tgz (.tar.gz, .tar) files and/or extracted Takeout folders (all parts
    /// of one export).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,

    /// Output folder (created if missing; files already there are never overwritten).
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,

    /// Read and check everything, but write nothing.
    #[arg(long)]
    dry_run: bool,

    /// Also write the full per-file report as JSON to FILE (every run keeps one, with a
    /// readable log, in OUTPUT/.gpbackup/reports/).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Number of worker threads [default: one per CPU core].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,

    /// Print nothing but failures: no progress bar, no summary.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,

    /// Also print one line per media file on stdout: what happened to it and where it went.
    #[arg(short, long)]
    verbose: bool,

    /// Time zone for dates written into files. `auto`: the file's own offset (or the one its
    /// sidecar implies), else the zone at its GPS position (offline lookup), else UTC (the same
    /// bytes on every machine); a clock without a zone (a date in a file name) is read in
    /// this machine's zone. Or one zone for every file: `local` (this machine's), `UTC`, or
    /// an IANA name such as `Europe/Paris`.
    /// Takeout dates are UTC; EXIF dates are local wall-clock time.
    #[arg(long, value_name = "ZONE", default_value = "auto")]
    timezone: String,

    /// Replace a date taken that a file already carries with the sidecar's date.
    #[arg(long)]
    overwrite_dates: bool,

    /// Keep a camera's date taken even when Google Photos has another (one the user corrected
    /// there): by default the corrected date replaces it, and the camera's is kept in the
    /// report and the manifest.
    #[arg(long, conflicts_with = "overwrite_dates")]
    keep_camera_dates: bool,

    /// fsync every output file before it is renamed into place (slower; for flaky storage).
    #[arg(long)]
    sync: bool,

    /// Write `NAME.EXT.xmp` sidecars (read by digiKam, darktable, Immich, Lightroom): `auto`
    /// for files whose metadata cannot be embedded (GIF, RAW, BigTIFF, videos other than
    /// MP4/MOV, failed writes) or that have people or a favourite flag; `always` for every
    /// file; `never`.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    xmp: XmpMode,

    /// How the output folder is organised: `flat`, or in folders by local date taken: `year`
    /// (`2019/`) or `year-month` (`2019/07/`); files without a date go to `undated/`.
    #[arg(long, value_enum, value_name = "LAYOUT", default_value = "flat")]
    layout: Layout,

    /// Albums: `json` writes `albums.json` (each album and its files); `links` also makes
    /// `albums/<Album>/` folders of hard links (symbolic links where the file system has no
    /// hard links); `copy` makes them of copies; `none` nothing.
    #[arg(long, value_enum, value_name = "MODE", default_value = "json")]
    albums: AlbumsMode,

    /// Edited copies (`IMG_1-edited.jpg`, in any language): `keep` writes both the original
    /// and the edited copy, `only` the edited copy instead of its original, `skip` the
    /// original only.
    #[arg(long, value_enum, value_name = "MODE", default_value = "keep")]
    edited: EditedMode,

    /// Also write photos that are in Google Photos' trash (left out by default).
    #[arg(long)]
    keep_trashed: bool,

    /// Leave out of the library the photos of Google Photos' Archive (`archive`), Locked Folder
    /// (`locked`) or a partner's sharing (`partner`); by default they are written, and listed
    /// in albums of their own. Repeat, or separate with commas.
    #[arg(long, value_enum, value_name = "SET", value_delimiter = ',')]
    leave_out: Vec<LeaveOut>,
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    // Without arguments on a terminal (typed, or a double-click, which opens one): the guided
    // mode. Without a terminal, clap prints the help as for any missing command (exit 2).
    if args.len() == 1 && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        return run_guided().into();
    }
    let args = with_process_implied(args, &Cli::command());
    let cli = Cli::parse_from(args);
    let exit = match cli.command {
        Command::Process(args) => run_process(args),
        Command::Verify(args) => run_verify(args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "gpbackup",
                &mut std::io::stdout(),
            );
            Exit::Success
        }
        Command::Man => {
            use std::io::Write as _;
            match man_page().and_then(|page| std::io::stdout().write_all(&page)) {
                Ok(()) => Exit::Success,
                Err(e) => {
                    say(&format!("gpbackup: {e}"));
                    Exit::CouldNotFinish
                }
            }
        }
    };
    exit.into()
}

/// The guided mode ([`gpbackup::guide`]): asks, then runs `gpbackup process INPUTS -o DIR`
/// as typed, and waits for Enter before the window it may have opened closes.
fn run_guided() -> Exit {
    let stdin = std::io::stdin();
    let exit = match gpbackup::guide::converse(&mut stdin.lock(), &mut std::io::stderr()) {
        Ok(Some(choice)) => {
            let mut line: Vec<OsString> = vec!["gpbackup".into(), "process".into()];
            line.extend(choice.inputs.iter().map(OsString::from));
            line.extend(["-o".into(), choice.output.clone().into()]);
            match Cli::try_parse_from(line) {
                Ok(Cli {
                    command: Command::Process(args),
                }) => {
                    let exit = run_process(args);
                    eprintln!(
                        "\nThe same, typed: {}",
                        gpbackup::guide::command_line(&choice)
                    );
                    exit
                }
                Ok(_) => Exit::Usage,
                Err(e) => {
                    say(&format!("gpbackup: {e}"));
                    Exit::Usage
                }
            }
        }
        Ok(None) => Exit::Success,
        Err(e) => {
            say(&format!("gpbackup: {e}"));
            Exit::CouldNotFinish
        }
    };
    eprint!("\nPress Enter to close.");
    let mut line = String::new();
    let _ = stdin.read_line(&mut line);
    exit
}

/// The command line with `process` put in front of its arguments when they start without a
/// subcommand, with an input or an option of `process` instead: `gpbackup takeout-*.zip -o
/// photos` is `gpbackup process takeout-*.zip -o photos`. Anything else is left for clap to
/// parse and explain (`gpbackup procss` gets its "a similar subcommand exists" tip).
fn with_process_implied(mut args: Vec<OsString>, cmd: &clap::Command) -> Vec<OsString> {
    let implied = args
        .get(1)
        .is_some_and(|first| implies_process(first, cmd, |p| p.symlink_metadata().is_ok()));
    if implied {
        args.insert(1, "process".into());
    }
    args
}

/// Whether a command line whose first argument is `first` means `process`: `first` is an
/// option of `process` (not `-h` or `-V`, which the command has too), or it is not a
/// subcommand and names an input, an existing path or one that reads as a path (a folder
/// separator in it, or the ending of a Takeout part: `.zip`, `.tgz`, `.tar.gz`, `.tar`), so
/// that a missing input is named as such rather than as an unknown subcommand.
fn implies_process(first: &OsStr, cmd: &clap::Command, exists: impl Fn(&Path) -> bool) -> bool {
    let Some(process) = cmd.find_subcommand("process") else {
        return false;
    };
    let text = first.to_string_lossy();
    if let Some(long) = text.strip_prefix("--") {
        let long = long.split('=').next().unwrap_or_default();
        return !matches!(long, "help" | "version")
            && process.get_arguments().any(|a| a.get_long() == Some(long));
    }
    if let Some(short) = text.strip_prefix('-') {
        return short.chars().next().is_some_and(|c| {
            !matches!(c, 'h' | 'V') && process.get_arguments().any(|a| a.get_short() == Some(c))
        });
    }
    if text == "help" || cmd.get_subcommands().any(|c| c.get_name() == text) {
        return false;
    }
    let lower = text.to_lowercase();
    exists(Path::new(first))
        || text.chars().any(std::path::is_separator)
        || [".zip", ".tgz", ".tar.gz", ".tar"]
            .iter()
            .any(|end| lower.ends_with(end))
}

/// The manual page, from the same definitions as `--help`: the command's page, then the
/// options and exit codes of each subcommand that does work.
fn man_page() -> std::io::Result<Vec<u8>> {
    let cmd = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    let mut page = String::from_utf8_lossy(&page).replace(".SH EXTRA", ".SH \"EXIT CODES\"");
    // clap_mangen names a page of its own for each subcommand (`gpbackup-process(1)`): this
    // page holds them all, so the list names the commands as they are typed.
    for name in cmd.get_subcommands().map(|s| s.get_name()).chain(["help"]) {
        page = page.replace(
            &format!("gpbackup\\-{}(1)", name.replace('-', "\\-")),
            &format!("\\fBgpbackup {name}\\fR"),
        );
    }
    let mut page = page.into_bytes();
    for sub in cmd
        .get_subcommands()
        .filter(|s| s.get_arguments().count() > 1)
    {
        let name = sub.get_name();
        let mut section = Vec::new();
        let man = clap_mangen::Man::new(sub.clone());
        man.render_synopsis_section(&mut section)?;
        man.render_options_section(&mut section)?;
        man.render_extra_section(&mut section)?;
        let section = String::from_utf8_lossy(&section)
            .replace(
                ".SH SYNOPSIS",
                &format!(".SH \"GPBACKUP {}\"", name.to_uppercase()),
            )
            .replace(
                ".SH OPTIONS",
                &format!(".SS \"Options of gpbackup {name}\""),
            )
            .replace(
                ".SH EXTRA",
                &format!(".SS \"Exit codes of gpbackup {name}\""),
            )
            .replace(
                &format!("\\fB{name}\\fR"),
                &format!("\\fBgpbackup {name}\\fR"),
            );
        page.extend_from_slice(section.as_bytes());
    }
    Ok(page)
}

fn run_verify(args: VerifyArgs) -> Exit {
    let progress = !args.quiet && std::io::stderr().is_terminal();
    if !args.against.is_empty() {
        return run_verify_against(args, progress);
    }
    match gpbackup::verify::run(&args.dir, args.jobs.map(usize::from), progress) {
        Ok(report) => {
            if args.quiet {
                eprint!("{}", report.problems(args.strict));
            } else {
                eprint!(
                    "{}",
                    gpbackup::words::for_stderr(&report.summary(args.strict))
                );
            }
            Exit::of_outcome(report.passes(args.strict))
        }
        Err(e) => {
            say(&format!("gpbackup: {e}"));
            Exit::of_error(e.is_usage())
        }
    }
}

fn run_verify_against(args: VerifyArgs, progress: bool) -> Exit {
    let opts = gpbackup::verify::AgainstOptions {
        inputs: &args.against,
        full: args.full,
        jobs: args.jobs.map(usize::from),
        progress,
    };
    match gpbackup::verify::against(&args.dir, &opts) {
        Ok(report) => {
            let library = gpbackup::verify::display_home(&args.dir);
            let summary = report.summary(&library, args.strict);
            if !(args.quiet && report.passes(args.strict)) {
                eprint!("{}", gpbackup::words::for_stderr(&summary));
            }
            if let Some(path) = &args.report {
                if let Err(e) = gpbackup::verify::write_report(&report, path, &args.against) {
                    eprintln!("gpbackup: --report {}: {e}", path.display());
                    return Exit::CouldNotFinish;
                }
            }
            Exit::of_outcome(report.passes(args.strict))
        }
        Err(e) => {
            say(&format!("gpbackup: {e}"));
            Exit::of_error(e.is_usage())
        }
    }
}

fn run_process(args: ProcessArgs) -> Exit {
    let timezone = match TimeZoneChoice::parse(&args.timezone) {
        Ok(z) => z,
        Err(e) => {
            eprintln!("gpbackup: --timezone: {e}");
            return Exit::Usage;
        }
    };
    // Ctrl-C, SIGTERM (`kill`, a service manager) and SIGHUP (the terminal closed): finish
    // cleanly (files done so far are kept, the rest is reported); a second signal ends at once
    // (temp files are cleared by the next run). The ctrlc crate's `termination` feature
    // handles all three.
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(Exit::Interrupted as i32);
        }
        eprintln!("\ngpbackup: stopping...");
    });
    let quiet = args.quiet;
    let opts = Options {
        inputs: args.inputs,
        output: args.output,
        dry_run: args.dry_run,
        report: args.report,
        per_file: args.verbose,
        jobs: args.jobs.map(usize::from),
        progress: !args.quiet && std::io::stderr().is_terminal(),
        timezone,
        overwrite_dates: args.overwrite_dates,
        keep_camera_dates: args.keep_camera_dates,
        sync: args.sync,
        xmp: args.xmp,
        cancel,
        layout: args.layout,
        albums: args.albums,
        edited: args.edited,
        keep_trashed: args.keep_trashed,
        leave_out: args.leave_out,
    };
    match process::run(&opts) {
        Ok(report) => tell_outcome(&report, quiet),
        Err(e) if e.is_interrupted() => {
            say(&format!("gpbackup: {e}"));
            Exit::Interrupted
        }
        Err(e) => {
            say(&format!("gpbackup: {e}"));
            Exit::of_error(e.is_usage())
        }
    }
}

/// Prints a message on stderr, its lines broken between words to fit the terminal.
fn say(text: &str) {
    eprintln!("{}", gpbackup::words::for_stderr(text));
}

/// Prints the summary (or, with `-q`, the failures only) and says how the run ended: its exit
/// code.
fn tell_outcome(report: &Report, quiet: bool) -> Exit {
    if quiet {
        for line in report.failure_lines() {
            eprintln!("{line}");
        }
        // Quiet, but not silent about where the rest is told.
        if !report.all_ok() || report.stopped.is_some() {
            if let Some(Ok(log)) = &report.record {
                eprintln!("A record of this run: {}", log.display());
            }
        }
    } else {
        eprint!("{}", gpbackup::words::for_stderr(&report.summary()));
    }
    match report.stopped {
        Some(why) => {
            let fix = match why {
                StopReason::Interrupted => "",
                StopReason::DiskFull => "free some space there, then ",
            };
            say(&format!(
                "gpbackup: stopped early: {why}. What was written is kept; {fix}run the same \
                 command again to finish."
            ));
            match why {
                StopReason::Interrupted => Exit::Interrupted,
                StopReason::DiskFull => Exit::CouldNotFinish,
            }
        }
        None if report.all_ok() => Exit::Success,
        None => {
            if !quiet {
                say("gpbackup: completed with failures; every other file was written");
            }
            Exit::WithFailures
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_is_implied_by_an_input_or_one_of_its_options_first() {
        let cmd = Cli::command();
        let existing = |p: &Path| p == Path::new("photos") || p == Path::new("Takeout");
        for (first, implied) in [
            // Inputs: a Takeout part, a path, an existing folder.
            ("takeout-20240101T000000Z-001.zip", true),
            ("Takeout-1.TGZ", true),
            ("takeout.tar.gz", true),
            ("takeout/part.zip", true),
            ("./Takeout", true),
            ("Takeout", true),
            ("photos", true),
            // Options of `process`.
            ("-o", true),
            ("-ophotos", true),
            ("--output", true),
            ("--output=photos", true),
            ("--dry-run", true),
            ("-v", true),
            // Subcommands, help and version, and what clap explains best.
            ("process", false),
            ("verify", false),
            ("man", false),
            ("completions", false),
            ("help", false),
            ("-h", false),
            ("--help", false),
            ("-V", false),
            ("--version", false),
            ("procss", false),
            ("verfy", false),
            ("--bogus", false),
            ("-x", false),
            ("-", false),
            ("--", false),
        ] {
            assert_eq!(
                implies_process(OsStr::new(first), &cmd, existing),
                implied,
                "{first}"
            );
        }
        // A subcommand is one even where a folder of that name is (`gpbackup man` in a folder
        // holding `man/`).
        for sub in ["process", "verify", "man", "completions", "help"] {
            assert!(!implies_process(OsStr::new(sub), &cmd, |_| true), "{sub}");
        }
    }

    #[test]
    fn process_goes_in_front_of_the_arguments_only() {
        let cmd = Cli::command();
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            with_process_implied(args(&["gpbackup", "a.zip", "-o", "out"]), &cmd),
            args(&["gpbackup", "process", "a.zip", "-o", "out"])
        );
        for unchanged in [
            &["gpbackup"][..],
            &["gpbackup", "verify", "a.zip"],
            &["gpbackup", "process", "a.zip", "-o", "out"],
        ] {
            assert_eq!(with_process_implied(args(unchanged), &cmd), args(unchanged));
        }
    }
}
