//! Sets `OTWATCH_COMMIT` for the version the programs print (`--version`) and the sensor
//! reports to its manager: the commit the source was built from, its first 12 hex digits and
//! the commit's date ("a1b2c3d4e5f6 2026-12-07"). Outside a git checkout (a source tarball) it
//! is "unknown", unless the packager sets `OTWATCH_COMMIT` in the build's environment.
//!
//! The manager's build.rs is a link to this file, so both packages say the same.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=OTWATCH_COMMIT");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = match std::env::var("OTWATCH_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => from_git(&manifest_dir).unwrap_or_else(|| "unknown".to_string()),
    };
    println!("cargo:rustc-env=OTWATCH_COMMIT={commit}");
}

/// The commit and its date, when this package is a tracked part of a git checkout.
fn from_git(dir: &Path) -> Option<String> {
    // A package unpacked inside some other repository is not built from that repository's
    // commits: only a checkout that tracks this very file counts.
    git(dir, &["ls-files", "--error-unmatch", "build.rs"])?;
    let full = git(dir, &["rev-parse", "HEAD"])?;
    let commit = full.get(..12)?;
    // Rerun when HEAD moves and only then, not at every build: HEAD itself changes on a
    // checkout of another branch, the branch's ref on a commit (a loose ref file, or
    // packed-refs once git packs it; the refs directory catches a loose ref appearing).
    let mut watch = vec![git_path(dir, "HEAD")?];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        let loose = git_path(dir, &branch)?;
        if loose.exists() {
            watch.push(loose);
        } else {
            watch.extend(loose.parent().map(Path::to_path_buf));
        }
        watch.push(git_path(dir, "packed-refs")?);
    }
    for path in watch.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Some(match git(dir, &["log", "-1", "--format=%cs", "HEAD"]) {
        Some(date) => format!("{commit} {date}"),
        None => commit.to_string(),
    })
}

/// Where git keeps `name` (in a worktree, HEAD is in its own directory and the refs in the
/// main repository's).
fn git_path(dir: &Path, name: &str) -> Option<PathBuf> {
    git(dir, &["rev-parse", "--git-path", name]).map(|p| dir.join(p))
}

/// What a git command printed (trimmed), if git is there and the command succeeded.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.trim().to_string())
}
