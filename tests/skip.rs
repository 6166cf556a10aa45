//! How an integration test that cannot run here says so: loudly, and never silently in CI.
//! Included by path (`#[path = "../../tests/skip.rs"] mod skip;`) by the tests of every crate.
//!
//! A test whose needs are missing returns early and counts as passed; nextest cannot mark it
//! skipped at run time. So it prints `SKIPPED: <why>` (shown in the run's final summary by
//! `.config/nextest.toml`), and in CI (`CI` set), where `.ci/run` installs the tools, the Python
//! peers and the kernel features, a missing need fails the test instead. Only what CI does not
//! provide on purpose (the shared capture corpus outside the repository) may skip there.

/// What a test needs.
#[allow(dead_code)]
pub enum Need {
    /// CI provides it (a tool, a Python peer, a kernel feature, root): CI fails without it.
    InCi,
    /// The shared corpus (`../shared/pcaps`), which a fresh clone in CI may not have.
    Corpus,
    /// Where the checkout lies (a build under a directory only root may enter cannot be run
    /// as `nobody`).
    Layout,
}

/// Says why the test does not run, or fails it in CI when CI must have provided `need`.
#[allow(dead_code)]
pub fn skip(why: &str, need: Need) {
    if matches!(need, Need::InCi) && std::env::var_os("CI").is_some() {
        panic!("this test must run in CI, but: {why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// Whether `tool` is a command on the PATH.
#[allow(dead_code)]
pub fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the test runs as root (`/proc/self` belongs to the process's effective user).
#[allow(dead_code)]
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
