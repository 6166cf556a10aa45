//! Exit statuses of `otwatch-sensor`: the three every otwatch program gives
//! ([`otwatch_common::exit`]: 0 done, 1 nothing done, 2 partial) and those only `run` and the
//! state store can give. docs/CLI.md ("Exit status") is the table for users; each command's
//! `--help` prints the lines it can give. When several apply, the most serious wins, in this
//! order: [`NOT_STORED`], [`REVOKED`], [`NOT_ACKNOWLEDGED`], [`INTERRUPTED`],
//! [`INPUT_DAMAGED`].

use otwatch_common::exit::{help, Status, FAILED as FAILED_STATUS, PARTIAL};

/// Everything was done: read, stored and, with a manager, acknowledged.
pub const OK: u8 = otwatch_common::exit::OK.code;
/// Nothing was done: bad arguments, settings or files (config, rules, policy, token), a
/// capture file that is missing, unreadable or not a capture, a capture interface that cannot
/// be opened, the manager unreachable at enrolment. Nothing was written.
pub const FAILED: u8 = FAILED_STATUS.code;
/// Some capture was corrupt or truncated: everything readable was analysed and kept; the
/// errors are on stderr.
pub const INPUT_DAMAGED: u8 = PARTIAL.code;

/// The manager did not acknowledge everything before the drain timeout.
pub const NOT_ACKNOWLEDGED_STATUS: Status = Status {
    code: 3,
    meaning: "run: the manager did not acknowledge everything within --drain-timeout; the rest \
              stays in the outbox for the next run (stderr says how many deltas)",
};
/// The manager revoked this sensor.
pub const REVOKED_STATUS: Status = Status {
    code: 4,
    meaning: "run: the manager revoked this sensor; enrol it again",
};
/// The state could not be written.
pub const NOT_STORED_STATUS: Status = Status {
    code: 5,
    meaning: "the state could not be written (disk full); the store keeps its last commit, intact",
};
/// A replay stopped by a signal.
pub const INTERRUPTED_STATUS: Status = Status {
    code: 130,
    meaning: "run --pcap: interrupted by SIGINT/SIGTERM before the end of its files (what was \
              read is stored), or a second signal ended the drain at once",
};

/// The manager did not acknowledge everything before the drain timeout: what is left stays in
/// the outbox and the next run sends it (stderr says how many deltas).
pub const NOT_ACKNOWLEDGED: u8 = NOT_ACKNOWLEDGED_STATUS.code;
/// The manager revoked this sensor: enrol it again.
pub const REVOKED: u8 = REVOKED_STATUS.code;
/// The state could not be written (the disk is full, or another storage error): what is on
/// disk is the last commit that was stored, intact.
pub const NOT_STORED: u8 = NOT_STORED_STATUS.code;
/// A replay was stopped by SIGINT/SIGTERM before the end of its files (what was replayed is
/// stored), or a second signal ended the drain at once. The shell's 128 + SIGINT.
pub const INTERRUPTED: u8 = INTERRUPTED_STATUS.code;

/// Every status the sensor can give, in the order docs/CLI.md lists them.
pub const ALL: [Status; 7] = [
    otwatch_common::exit::OK,
    FAILED_STATUS,
    PARTIAL,
    NOT_ACKNOWLEDGED_STATUS,
    REVOKED_STATUS,
    NOT_STORED_STATUS,
    INTERRUPTED_STATUS,
];

/// How several statuses that apply at once are reduced to one, for the `--help` texts.
const PRECEDENCE: &str = "When several apply, the first of 5, 4, 3, 130, 2 is given.";

/// The top-level `--help`: every status.
pub fn help_all() -> String {
    format!(
        "{}{PRECEDENCE}\nEach command's --help lists its own.",
        help(&ALL)
    )
}

/// `run --help`: every status applies.
pub fn run_help() -> String {
    format!("{}{PRECEDENCE}", help(&ALL))
}

/// `analyze --help`: the common statuses, and 5 with --state.
pub fn analyze_help() -> String {
    let mut s = otwatch_common::exit::COMMON.to_vec();
    s.push(NOT_STORED_STATUS);
    format!("{}When both apply, 5 is given.", help(&s))
}

/// `enroll --help`: enrolment either happens or not, and writes its key and certificate.
pub fn enroll_help() -> String {
    help(&[otwatch_common::exit::OK, FAILED_STATUS, NOT_STORED_STATUS])
}

/// `policy learn --help`: the statuses every otwatch program can give.
pub fn common_help() -> String {
    help(&otwatch_common::exit::COMMON)
}

/// The other commands (checks, exports, `inventory`): done or nothing done.
pub fn simple_help() -> String {
    help(&[otwatch_common::exit::OK, FAILED_STATUS])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/CLI.md's table says every status with the words `--help` prints.
    #[test]
    fn the_documented_table_matches_the_help() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/CLI.md");
        let doc = std::fs::read_to_string(path).unwrap_or_default();
        assert!(doc.contains("## Exit status"), "{path}");
        for s in ALL {
            let row = format!("\n| {} | {} |", s.code, s.meaning);
            assert!(doc.contains(&row), "{path} lacks the row {row:?}");
        }
    }
}
