//! `otwatch`: the operator CLI; the work happens in `otwatch_manager::cli`.
#![forbid(unsafe_code)]

use otwatch_common::exit::FAILED;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli: otwatch_manager::cli::Cli =
        match otwatch_common::exit::parse_args(otwatch_manager::cli::exit_help()) {
            Ok(c) => c,
            Err(code) => return code,
        };
    let url = cli.manager_url();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::from(FAILED.code);
        }
    };
    let mut out = std::io::stdout().lock();
    match rt.block_on(otwatch_manager::cli::run(cli, &mut out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line saying what failed, and a `hint:` line for the usual mistakes.
            eprintln!("error: {}", otwatch_manager::cli::explain(&e, &url));
            ExitCode::from(FAILED.code)
        }
    }
}
