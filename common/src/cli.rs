//! What the command lines of the three programs share besides their exit statuses
//! ([`crate::exit`]): the `completions` and `man` commands, and the checks their tests make of
//! the whole command tree (every option and command has help; docs/CLI.md shows every command).
//!
//! The scripts and pages are generated from the same clap definitions that parse the command
//! line, so they cannot fall behind it.

use clap::Command;
use std::path::{Path, PathBuf};

/// `completions SHELL`.
#[derive(clap::Args, Debug, Clone)]
pub struct Completions {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

impl Completions {
    /// The completion script of `cmd` (the whole program) for the shell asked for.
    pub fn script(&self, mut cmd: Command) -> Vec<u8> {
        // Into memory first: the generator panics when it cannot write (`| head`).
        let mut script = Vec::new();
        let name = cmd.get_name().to_string();
        clap_complete::generate(self.shell, &mut cmd, name, &mut script);
        script
    }
}

/// `man [--dir DIR]`.
#[derive(clap::Args, Debug, Clone)]
pub struct Manual {
    /// Write one page per command into this directory (e.g. /usr/local/share/man/man1):
    /// PROGRAM.1, PROGRAM-COMMAND.1, PROGRAM-COMMAND-SUBCOMMAND.1. Without it, the program's
    /// page goes to standard output.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// A failure of `man --dir`: the file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}; pass --dir a directory you may write to")]
pub struct ManError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl Manual {
    /// Without `--dir`, the page of the program `cmd` (roff); with it, nothing, after writing
    /// a page per command into the directory (the files written are in the `Ok` list).
    pub fn render(&self, cmd: Command) -> Result<(Vec<u8>, Vec<PathBuf>), ManError> {
        // clap's `help` command has no page: `--help` is on each page.
        let mut cmd = cmd.disable_help_subcommand(true);
        // Built, every subcommand knows its full name ("otwatch-assets-approve").
        cmd.build();
        // Every page names the program and version it describes (its footer).
        let source = match cmd.get_version() {
            Some(v) => format!("{} {v}", cmd.get_name()),
            None => cmd.get_name().to_string(),
        };
        let Some(dir) = &self.dir else {
            return Ok((page(&cmd, &source), Vec::new()));
        };
        std::fs::create_dir_all(dir).map_err(|source| ManError {
            path: dir.clone(),
            source,
        })?;
        let mut written = Vec::new();
        write_pages(&cmd, &source, dir, &mut written)?;
        Ok((Vec::new(), written))
    }
}

/// The man page (section 1) of one command of the program `source` names.
fn page(cmd: &Command, source: &str) -> Vec<u8> {
    // The text after the options (the exit statuses, or notes and examples) is laid out in
    // lines and columns that roff would fill into paragraphs: it gets a section of its own,
    // where indented lines are kept as they are.
    let after = cmd.get_after_long_help().or_else(|| cmd.get_after_help());
    let after = after.map(|a| a.to_string());
    let mut roff = Vec::new();
    let man = clap_mangen::Man::new(
        cmd.clone()
            .after_help(None::<&str>)
            .after_long_help(None::<&str>),
    )
    .source(source.to_string());
    // Rendering into memory cannot fail.
    let _ = man.render(&mut roff);
    if let Some(text) = after {
        let title = if text.starts_with("Exit status") {
            "EXIT STATUS"
        } else {
            "NOTES"
        };
        roff.extend_from_slice(format!(".SH \"{title}\"\n").as_bytes());
        let mut kept = false;
        for line in text.lines() {
            let indented = line.starts_with(' ');
            if indented != kept {
                roff.extend_from_slice(if indented { b".nf\n" } else { b".fi\n" });
                kept = indented;
            }
            if line.trim().is_empty() {
                roff.extend_from_slice(b".sp\n");
            } else {
                roff.extend_from_slice(roff_line(line).as_bytes());
                roff.push(b'\n');
            }
        }
        if kept {
            roff.extend_from_slice(b".fi\n");
        }
    }
    ascii(&roff)
}

/// `roff` with every character outside ASCII (the `…` of `otwop1.…`) written as groff's
/// `\[uXXXX]`, which every formatter reads without first being told the encoding.
fn ascii(roff: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out.into_bytes()
}

fn write_pages(
    cmd: &Command,
    source: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), ManError> {
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page(cmd, source)).map_err(|source| ManError {
        path: path.clone(),
        source,
    })?;
    written.push(path);
    for sub in commands(cmd) {
        write_pages(sub, source, dir, written)?;
    }
    Ok(())
}

/// `line` as a line of roff text: backslashes escaped, and a leading `.` or `'` kept from
/// reading as a request.
fn roff_line(line: &str) -> String {
    let line = line.replace('\\', "\\e");
    if line.starts_with(['.', '\'']) {
        format!("\\&{line}")
    } else {
        line
    }
}

/// The subcommands of `cmd` that the program defines (not clap's `help`).
fn commands(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands().filter(|s| s.get_name() != "help")
}

/// Fails naming what is missing unless the command line of a program is complete: clap's own
/// consistency checks pass (no two arguments with one name, defaults among the possible
/// values), every option, argument and command has help ([`missing_help`]), and every command
/// has its example in `doc`, the text of docs/CLI.md ([`undocumented`]). Each program's unit
/// tests call it on its own `Cli::command()`.
pub fn assert_complete(cmd: Command, doc: &str) {
    cmd.clone().debug_assert();
    let missing = missing_help(&cmd);
    assert!(missing.is_empty(), "no help text: {missing:#?}");
    let missing = undocumented(&cmd, doc);
    assert!(
        missing.is_empty(),
        "docs/CLI.md has no heading like ### `COMMAND` (then an example) for: {missing:#?}"
    );
}

/// Every option, positional argument and command of the tree of `cmd` that has no help text
/// (clap's own `--help` and `--version` aside), each as its command line would name it:
/// `otwatch-sensor policy learn --quiet`, `otwatch-sensor rules check <PATH>`, `otwatch sites`.
pub fn missing_help(cmd: &Command) -> Vec<String> {
    let mut missing = Vec::new();
    walk_help(cmd, cmd.get_name(), true, &mut missing);
    missing
}

fn walk_help(cmd: &Command, path: &str, root: bool, missing: &mut Vec<String>) {
    if !root && cmd.get_about().is_none() && cmd.get_long_about().is_none() {
        missing.push(path.to_string());
    }
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "help" | "version") || arg.is_global_set() && !root {
            continue;
        }
        if arg.get_help().is_none() && arg.get_long_help().is_none() {
            let name = match (arg.get_long(), arg.get_short()) {
                (Some(l), _) => format!("--{l}"),
                (None, Some(s)) => format!("-{s}"),
                (None, None) => format!("<{}>", id.to_uppercase()),
            };
            missing.push(format!("{path} {name}"));
        }
    }
    for sub in commands(cmd) {
        walk_help(sub, &format!("{path} {}", sub.get_name()), false, missing);
    }
}

/// Every command of the tree of `cmd` (the program itself aside), from the top down, as the
/// command line names it (`otwatch assets approve`), with whether it does something by itself
/// (`otwatch assets` lists; `otwatch-sensor policy` only groups its subcommands).
pub fn command_paths(cmd: &Command) -> Vec<(String, bool)> {
    fn walk(cmd: &Command, path: &str, out: &mut Vec<(String, bool)>) {
        for sub in commands(cmd) {
            let p = format!("{path} {}", sub.get_name());
            let runs = sub.get_subcommands().next().is_none() || !sub.is_subcommand_required_set();
            out.push((p.clone(), runs));
            walk(sub, &p, out);
        }
    }
    let mut out = Vec::new();
    walk(cmd, cmd.get_name(), &mut out);
    out
}

/// The commands of `cmd` that `doc` (docs/CLI.md) has no heading for: each command that does
/// something by itself needs a Markdown heading naming it in backquotes, `` ### `otwatch
/// assets approve` ``, followed by its example. A command that only groups subcommands is
/// covered by theirs.
pub fn undocumented(cmd: &Command, doc: &str) -> Vec<String> {
    let headings: Vec<&str> = doc
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect();
    command_paths(cmd)
        .into_iter()
        .filter(|(_, runs)| *runs)
        .map(|(path, _)| path)
        .filter(|path| {
            let wanted = format!("`{path}`");
            !headings.iter().any(|h| h.starts_with(&wanted))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    fn program() -> Command {
        Command::new("prog")
            .subcommand_required(true)
            .arg(
                Arg::new("format")
                    .long("format")
                    .global(true)
                    .help("Output"),
            )
            .subcommand(
                Command::new("list")
                    .about("Lists")
                    .arg(Arg::new("site").long("site"))
                    .subcommand(
                        Command::new("approve")
                            .about("Approves")
                            .arg(Arg::new("ids")),
                    ),
            )
            .subcommand(
                Command::new("policy").subcommand_required(true).subcommand(
                    Command::new("learn")
                        .about("Learns")
                        .arg(Arg::new("quiet").long("quiet").action(ArgAction::SetTrue)),
                ),
            )
    }

    #[test]
    fn missing_help_names_each_argument_and_command_as_typed() {
        assert_eq!(
            missing_help(&program()),
            [
                "prog list --site",
                "prog list approve <IDS>",
                "prog policy",
                "prog policy learn --quiet"
            ]
        );
    }

    #[test]
    fn every_command_that_runs_needs_its_own_heading() {
        assert_eq!(
            command_paths(&program()),
            [
                ("prog list".to_string(), true),
                ("prog list approve".to_string(), true),
                ("prog policy".to_string(), false),
                ("prog policy learn".to_string(), true),
            ]
        );
        let doc = "# CLI\n## prog\n### `prog list`\n`prog list approve` in a sentence\n#### `prog policy learn` (PCAP...)\n";
        assert_eq!(undocumented(&program(), doc), ["prog list approve"]);
    }

    #[test]
    fn completions_and_pages_cover_the_subcommands() {
        let bash = Completions {
            shell: clap_complete::Shell::Bash,
        }
        .script(program());
        let bash = String::from_utf8(bash).unwrap();
        assert!(bash.contains("approve") && bash.contains("learn"), "{bash}");

        let dir = tempfile::tempdir().unwrap();
        let m = Manual {
            dir: Some(dir.path().join("man1")),
        };
        let (stdout, written) = m.render(program()).unwrap();
        assert!(stdout.is_empty());
        let names: Vec<String> = written
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .collect();
        assert_eq!(
            names,
            [
                "prog.1",
                "prog-list.1",
                "prog-list-approve.1",
                "prog-policy.1",
                "prog-policy-learn.1"
            ]
        );
        let (page, _) = Manual { dir: None }.render(program()).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".ie"), "{page}");
        assert!(page.contains(".TH prog 1"), "{page}");
        assert!(!page.contains("prog-help"), "{page}");

        let with_notes = program().after_help("Exit status:\n  0    done\n.dot \\ back…");
        let (page, _) = Manual { dir: None }.render(with_notes).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(
            page.ends_with(
                ".SH \"EXIT STATUS\"\nExit status:\n.nf\n  0    done\n.fi\n\\&.dot \\e back\\[u2026]\n"
            ),
            "{page}"
        );
    }
}
