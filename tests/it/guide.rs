//! The guided mode, through a real pseudo-terminal: `gpbackup` started without arguments on a
//! terminal asks where the Takeout is and where the library goes, says what it found, asks
//! before writing, runs as `gpbackup process` would, and waits for Enter at the end. Without a
//! terminal it prints the help (exit 2).

use crate::common::*;
use std::path::Path;
use std::process::Command;

#[test]
fn without_a_terminal_no_arguments_print_the_help() {
    let o = Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("Usage: gpbackup"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("Where is your Takeout?"));
}

#[cfg(unix)]
mod pty {
    use super::*;
    use std::fs::File;
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::{Child, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// `gpbackup` without arguments on its own pseudo-terminal: what it prints (echoed typing
    /// included), and a way to type.
    struct Session {
        child: Child,
        typing: File,
        screen: Arc<Mutex<String>>,
    }

    impl Session {
        fn start(home: &Path) -> Session {
            let (mut master, mut slave) = (-1, -1);
            // SAFETY: openpty writes two descriptors; null name, termios and window size.
            let rc = unsafe {
                libc::openpty(
                    &mut master,
                    &mut slave,
                    std::ptr::null_mut(),
                    std::ptr::null(),
                    std::ptr::null(),
                )
            };
            assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
            // SAFETY: both descriptors were just opened and are owned here alone.
            let (master, slave) =
                unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
            let io = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
            let child = Command::new(env!("CARGO_BIN_EXE_gpbackup"))
                .stdin(io(&slave))
                .stdout(io(&slave))
                .stderr(io(&slave))
                .env("TZ", "UTC")
                .env("HOME", home)
                .env("NO_COLOR", "1")
                .spawn()
                .unwrap();
            drop(slave);
            let typing = File::from(master.try_clone().unwrap());
            let mut reading = File::from(master);
            let screen = Arc::new(Mutex::new(String::new()));
            let shown = screen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // Ends with EIO once the child closed the terminal.
                while let Ok(n @ 1..) = reading.read(&mut buf) {
                    shown
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
            Session {
                child,
                typing,
                screen,
            }
        }

        /// Waits until `text` is on the screen (after what was waited for before).
        fn wait_for(&self, text: &str) {
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if self.screen.lock().unwrap().contains(text) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!(
                "{text:?} never shown; the screen:\n{}",
                self.screen.lock().unwrap()
            );
        }

        fn type_line(&mut self, line: &str) {
            self.typing.write_all(line.as_bytes()).unwrap();
            self.typing.write_all(b"\r").unwrap();
        }

        /// Waits for the child's exit code.
        fn exit(mut self) -> (Option<i32>, String) {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    std::thread::sleep(Duration::from_millis(100));
                    let screen = self.screen.lock().unwrap().clone();
                    return (status.code(), screen);
                }
                if Instant::now() > deadline {
                    let _ = self.child.kill();
                    panic!("still running: {}", self.screen.lock().unwrap());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Parts 001 and 003 of one export (002 not downloaded) in `dir`.
    fn two_of_three_parts(dir: &Path) {
        let stamp = "20240101T000000Z";
        let plain = fixture("plain.jpg");
        for (n, tag) in [(1, "A"), (3, "C")] {
            let tmp = dir.join(format!("part{n}"));
            let p = export(
                &tmp,
                stamp,
                &[
                    (format!("{YEAR}/{tag}.jpg"), jpeg_variant(&plain, tag)),
                    (
                        format!("{YEAR}/{tag}.jpg.json"),
                        sidecar(&format!("{tag}.jpg"), 1562253012, None),
                    ),
                ],
            );
            std::fs::rename(p, dir.join(format!("takeout-{stamp}-00{n}.zip"))).unwrap();
            std::fs::remove_dir(tmp).unwrap();
        }
    }

    #[test]
    fn the_guided_mode_asks_then_writes_the_library() {
        let tmp = tempfile::tempdir().unwrap();
        let downloads = tmp.path().join("My Downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        two_of_three_parts(&downloads);
        let mut s = Session::start(tmp.path());
        s.wait_for("Where is your Takeout?");
        // As a terminal gives a dropped folder: quoted.
        s.type_line(&format!("'{}'", downloads.display()));
        s.wait_for("Where should the library go?");
        s.type_line("~/photos");
        let out = tmp.path().join("photos");
        s.wait_for(&format!("Write the library to {}? [y/N]", out.display()));
        s.type_line("y");
        s.wait_for("Press Enter to close.");
        assert!(
            !s.child.try_wait().unwrap().is_some_and(|_| true),
            "it waits for Enter"
        );
        s.type_line("");
        let (code, screen) = s.exit();
        assert_eq!(code, Some(0), "{screen}");
        for said in [
            "Found 2 zips, ",
            "takeout-20240101T000000Z-001.zip … takeout-20240101T000000Z-003.zip",
            "Not here: part 002 of takeout-20240101T000000Z (parts up to 003 are).",
            "Free space there: ",
            "The same, typed: gpbackup process",
        ] {
            assert!(screen.contains(said), "{said:?} not said:\n{screen}");
        }
        assert!(!screen.contains("os error"), "{screen}");
        let mut names = listing(&out);
        names.sort();
        assert_eq!(names, ["A.jpg", "C.jpg"]);
        // What it ran is `gpbackup process`: verify finds the library whole.
        let v = gpbackup(&["verify".as_ref(), out.as_os_str()]);
        assert!(v.status.success(), "{}", stderr(&v));
    }

    #[test]
    fn the_guided_mode_writes_nothing_without_a_yes() {
        let tmp = tempfile::tempdir().unwrap();
        let downloads = tmp.path().join("dl");
        std::fs::create_dir_all(&downloads).unwrap();
        two_of_three_parts(&downloads);
        let mut s = Session::start(tmp.path());
        s.wait_for("Where is your Takeout?");
        // A folder that is not there first: said in plain words, asked again.
        s.type_line(&tmp.path().join("nowhere").display().to_string());
        s.wait_for("there is nothing there");
        s.type_line(
            &downloads
                .join("takeout-20240101T000000Z-001.zip")
                .display()
                .to_string(),
        );
        s.wait_for("Where should the library go?");
        s.type_line("");
        let out = downloads.join("Google Photos library");
        s.wait_for(&format!("Write the library to {}? [y/N]", out.display()));
        s.type_line("");
        s.wait_for("Nothing was written.");
        s.wait_for("Press Enter to close.");
        s.type_line("");
        let (code, screen) = s.exit();
        assert_eq!(code, Some(0), "{screen}");
        assert!(!out.exists(), "{screen}");
    }
}
