//! Whether a man page that a program printed (`PROGRAM man`) renders: groff, as `man` runs it,
//! formats it without a warning. Included by path (`#[path = "../../tests/roff.rs"] mod roff;`)
//! by the binary tests of the sensor and the manager, next to `skip.rs`.

use std::io::Write;
use std::process::{Command, Stdio};

/// The text of `page` formatted by `groff -man -Tutf8` with every warning on (plain text: no
/// bold or underline, hyphens as `-`), after checking that it formatted without one; `None` (said loudly by `skip`) where groff is not installed.
/// `.ci/run` installs it (groff-base), so CI fails instead of skipping.
#[allow(dead_code)]
pub fn render(page: &[u8]) -> Option<String> {
    let child = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            super::skip::skip(
                &format!("groff cannot be run ({e}): apt-get install groff-base"),
                super::skip::Need::InCi,
            );
            return None;
        }
    };
    child
        .stdin
        .take()
        .expect("groff's stdin")
        .write_all(page)
        .expect("write the page to groff");
    let out = child.wait_with_output().expect("groff's output");
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.trim().is_empty(),
        "groff: {}: {warnings}",
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.replace(['\u{2010}', '\u{2212}'], "-"))
}
