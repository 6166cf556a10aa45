//! Exit statuses of `otwatch-sensor`, shared by the commands and documented in their `--help`
//! and in README.md. When several apply, the most serious wins, in this order: [`NOT_STORED`],
//! [`REVOKED`], [`NOT_ACKNOWLEDGED`], [`INTERRUPTED`], [`INPUT_DAMAGED`].

/// Everything was done: read, stored and, with a manager, acknowledged.
pub const OK: u8 = 0;
/// Could not start or do the work: bad settings or files (config, rules, policy, token), a
/// capture file that cannot be read at all, a capture interface that cannot be opened, the
/// manager unreachable at enrolment. Nothing was written.
pub const FAILED: u8 = 1;
/// Some input was not a capture, corrupt or truncated: everything readable was analysed and
/// kept; the errors are on stderr.
pub const INPUT_DAMAGED: u8 = 2;
/// The manager did not acknowledge everything before the drain timeout: what is left stays in
/// the outbox and the next run sends it (stderr says how many deltas).
pub const NOT_ACKNOWLEDGED: u8 = 3;
/// The manager revoked this sensor: enrol it again.
pub const REVOKED: u8 = 4;
/// The state could not be written (the disk is full, or another storage error): what is on
/// disk is the last commit that was stored, intact.
pub const NOT_STORED: u8 = 5;
/// The command line could not be parsed (an unknown flag, a missing argument); `--help` says
/// what it takes. Like sysexits.h's EX_USAGE.
pub const USAGE: u8 = 64;
/// A replay was stopped by SIGINT/SIGTERM before the end of its files (what was replayed is
/// stored), or a second signal ended the drain at once. The shell's 128 + SIGINT.
pub const INTERRUPTED: u8 = 130;

/// `run --help`: every status applies.
pub const RUN_HELP: &str = "Exit status (the first that applies of 5, 4, 3, 130, 2; else 0):
  0    done: everything captured or replayed was stored and (with a manager) acknowledged
  1    could not start: bad arguments, settings or files, a capture file that cannot be read,
       an interface that cannot be opened; nothing written
  2    a capture file was not a capture, corrupt or truncated; what came before was kept
  3    the manager did not acknowledge everything within --drain-timeout; the rest stays in the
       outbox for the next run (stderr says how many deltas)
  4    the manager revoked this sensor; enrol it again
  5    the state could not be written (disk full); the store keeps its last commit, intact
  64   the command line could not be parsed
  130  --pcap interrupted by SIGINT/SIGTERM before the end of the files (what was read is
       stored), or a second signal ended the drain at once";

/// `analyze --help`.
pub const ANALYZE_HELP: &str = "Exit status (the first that applies of 5, 2; else 0):
  0    done: every file analysed (and with --state, stored)
  1    could not start: bad arguments or files, a capture file that cannot be read; nothing written
  2    a capture file was not a capture, corrupt or truncated; everything readable was analysed
       (and stored)
  5    the --state store could not be written (disk full); it keeps what it held, intact
  64   the command line could not be parsed";

/// `enroll --help`.
pub const ENROLL_HELP: &str = "Exit status:
  0    enrolled: the key and certificate are kept in STATE/uplink
  1    not enrolled: a bad token, the manager unreachable or refusing, already enrolled
  5    the key or certificate could not be written (disk full)
  64   the command line could not be parsed";

/// The exit statuses as the top-level `--help` shows them.
pub const HELP: &str = "Exit status:
  0    done: everything read, stored and (with a manager) acknowledged
  1    could not start: bad arguments, settings or files, an unreadable capture file; nothing written
  2    some input was corrupt or truncated; everything readable was analysed and kept
  3    the manager did not acknowledge everything in time; the rest stays in the outbox
  4    the manager revoked this sensor
  5    the state could not be written (disk full); the store keeps its last commit, intact
  64   the command line could not be parsed
  130  interrupted by SIGINT/SIGTERM before the end of the capture files
When several apply, the first of 5, 4, 3, 130, 2 is given. Each command's --help lists its own.";
