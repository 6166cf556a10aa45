//! The exit statuses shared by the three programs (`otwatch-sensor`, `otwatch-manager`,
//! `otwatch`), so that a script reads them the same way whichever it runs. docs/CLI.md
//! ("Exit status") is the table for users; each program's `--help` prints the lines of
//! [`Status`] it can give, rendered by [`help`]. The sensor adds statuses of its own for `run`
//! (otwatch-sensor's `exit` module).

/// An exit status and what it tells the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub code: u8,
    /// One line (wrapped by [`help`]), as docs/CLI.md says it.
    pub meaning: &'static str,
}

/// The command did everything it was asked.
pub const OK: Status = Status {
    code: 0,
    meaning: "done: everything asked was done",
};

/// Nothing was done: bad arguments, an input that is missing, unreadable or not what the
/// command reads, bad settings, a peer unreachable or refusing. Nothing was written.
pub const FAILED: Status = Status {
    code: 1,
    meaning: "nothing done: bad arguments; an input file missing, unreadable or not what the \
              command reads (a directory, an empty file, not a capture); bad settings; the \
              manager unreachable or refusing. Nothing was written",
};

/// Some input was corrupt or truncated: everything readable was used and its result written;
/// stderr says which input and where.
pub const PARTIAL: Status = Status {
    code: 2,
    meaning: "partial: some input was corrupt or truncated; everything readable was used and \
              its result written (stderr names the file and the byte offset)",
};

/// The statuses every program can give.
pub const COMMON: [Status; 3] = [OK, FAILED, PARTIAL];

/// The "Exit status" section of a `--help`: each status with its meaning, wrapped to fit 80
/// columns, and where the full table is.
pub fn help(statuses: &[Status]) -> String {
    const WIDTH: usize = 80;
    const INDENT: &str = "       ";
    let mut out = String::from("Exit status (see docs/CLI.md, \"Exit status\"):\n");
    for s in statuses {
        let mut line = format!("  {:<4} ", s.code);
        let mut empty = true;
        for word in s.meaning.split_whitespace() {
            if !empty && line.len() + 1 + word.len() > WIDTH {
                out.push_str(&line);
                out.push('\n');
                line = String::from(INDENT);
                empty = true;
            }
            if !empty {
                line.push(' ');
            }
            line.push_str(word);
            empty = false;
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Parses the command line like clap's `Parser::parse`, with the statuses above: `--help`
/// and `--version` print to stdout and give [`OK`]; a usage error (an unknown flag, a missing
/// argument, a bad value) prints clap's message to stderr and gives [`FAILED`] (clap alone
/// would give 2, which here means partial input). `exit_help` (from [`help`]) ends the
/// program's `--help`. `Err` carries the status to exit with.
#[cfg(feature = "cli")]
pub fn parse_args<P: clap::Parser>(exit_help: String) -> Result<P, std::process::ExitCode> {
    let parsed = command::<P>(exit_help)
        .try_get_matches()
        .and_then(|mut m| P::from_arg_matches_mut(&mut m));
    parsed.map_err(|e| {
        // Printing can only fail on a closed stdout/stderr, where nothing can be said anyway.
        let _ = e.print();
        let status = if e.use_stderr() { FAILED } else { OK };
        std::process::ExitCode::from(status.code)
    })
}

/// The command tree of a program as it parses its command line, with `exit_help` (from
/// [`help`]) ending its `--help`: also what its completion script and man pages are made from.
#[cfg(feature = "cli")]
pub fn command<P: clap::CommandFactory>(exit_help: String) -> clap::Command {
    P::command().after_help(exit_help)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_wraps_meanings_under_their_status() {
        let h = help(&COMMON);
        assert!(h.starts_with("Exit status"), "{h}");
        assert!(
            h.contains("\n  0    done: everything asked was done\n"),
            "{h}"
        );
        assert!(h.contains("\n  1    nothing done: bad arguments;"), "{h}");
        assert!(h.contains("\n  2    partial: "), "{h}");
        for line in h.lines() {
            assert!(line.len() <= 80, "{line:?}");
            assert!(!line.ends_with(' '), "{line:?}");
        }
        // A continuation line is indented under the meaning, not the status.
        assert!(h
            .lines()
            .any(|l| l.starts_with("       ") && !l.trim().is_empty()));
    }
}
