//! The PDF report: the HTML report printed by headless Chromium, the same engine a reader's
//! browser uses, so the PDF looks like the HTML does. Chromium is found on the PATH
//! (`chromium`, `chromium-browser`, `google-chrome`) or named by `OTWATCH_CHROMIUM`.

use crate::cli::output::terminal_safe;
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The programs tried, in order, when `OTWATCH_CHROMIUM` is not set.
pub const CANDIDATES: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// The Chromium to run: `OTWATCH_CHROMIUM` when set, else the first of [`CANDIDATES`] on the
/// PATH.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OTWATCH_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    CANDIDATES.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for n in 0..100u32 {
            let p = base.join(format!("otwatch-report-{}-{nanos}-{n}", std::process::id()));
            // create_dir fails when the name is taken, so the directory is ours alone.
            match std::fs::create_dir(&p) {
                Ok(()) => return Ok(TempDir(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("creating {}", p.display()));
                }
            }
        }
        bail!(
            "could not create a temporary directory in {}",
            base.display()
        )
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Chromium's sandbox needs user namespaces that root in a container usually lacks, and
/// Chromium refuses to start as root with it; only then is it turned off (the page printed is
/// our own file, with no script).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// [`find_chromium`], or the error that says how to get one.
pub fn chromium() -> anyhow::Result<PathBuf> {
    find_chromium().context(
        "a PDF report needs Chromium, and none was found (tried chromium, chromium-browser, google-chrome on the PATH; OTWATCH_CHROMIUM names another): install it (Debian: apt-get install chromium), or write --as html and print that",
    )
}

/// Prints `html` to the PDF file `out` with Chromium, waiting at most `timeout`.
pub fn write(html: &str, out: &Path, timeout: Duration) -> anyhow::Result<()> {
    let chromium = chromium()?;
    let dir = TempDir::new()?;
    let page = dir.0.join("report.html");
    let pdf = dir.0.join("report.pdf");
    let profile = dir.0.join("profile");
    std::fs::write(&page, html).with_context(|| format!("writing {}", page.display()))?;
    let log = std::fs::File::create(dir.0.join("chromium.log"))?;
    let mut cmd = Command::new(&chromium);
    cmd.args([
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        // Containers often have a small /dev/shm; Chromium then writes shared memory to /tmp.
        "--disable-dev-shm-usage",
        "--no-pdf-header-footer",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--print-to-pdf={}", pdf.display()));
    if running_as_root() {
        cmd.arg("--no-sandbox");
    }
    cmd.arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", chromium.display()))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{} did not print the PDF within {} s (--pdf-timeout SECS waits longer)",
                chromium.display(),
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let bytes = std::fs::read(&pdf).unwrap_or_default();
    if !status.success() || !bytes.starts_with(b"%PDF") {
        let log = std::fs::read_to_string(dir.0.join("chromium.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        bail!(
            "{} did not print a PDF ({status}){}",
            chromium.display(),
            if tail.is_empty() {
                String::new()
            } else {
                format!(
                    "; its last words: {}",
                    terminal_safe(&tail.into_iter().rev().collect::<Vec<_>>().join(" | "))
                )
            }
        );
    }
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))
}
