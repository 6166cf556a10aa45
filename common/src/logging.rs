//! Logging set-up shared by the otwatch binaries: to stderr, colours only on a terminal, the
//! level from `OTWATCH_LOG` (an env-filter directive such as `debug` or `otwatch_manager=debug`),
//! else the command's default.

/// Installs the subscriber; `default` applies when `OTWATCH_LOG` is unset or invalid.
pub fn init(default: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OTWATCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .init();
}
