//! The `vibe` binary: parse flags, load config, run targets until SIGTERM/SIGINT.
//!
//! Exit codes: 0 after a clean drain, 1 on a runtime failure (or a drain cut off by its
//! deadline), 2 on a usage or configuration error.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use vibe::app::{self, Drain};
use vibe::cli::{Cli, Command, ConfigCommand, ListenArgs};
use vibe::config::{self, Config};
use vibe::targets::Targets;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (listen, targets) = match &cli.command {
        Command::Up(listen) => (listen, Targets::all()),
        Command::Serve(serve) => (&serve.listen, Targets::from_list(&serve.target)),
        Command::Config(ConfigCommand::Check) => {
            return match config::load(&ListenArgs::default().sources(cli.config.clone())) {
                Ok(config) => {
                    print!("{}", config.to_redacted_toml());
                    ExitCode::SUCCESS
                }
                Err(error) => config_error(&error),
            };
        }
    };
    let config = match config::load(&listen.sources(cli.config.clone())) {
        Ok(config) => config,
        Err(error) => return config_error(&error),
    };
    match run(config, targets) {
        Ok(Drain::Complete) => ExitCode::SUCCESS,
        Ok(Drain::DeadlineExceeded) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("vibe: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_error(error: &config::ConfigError) -> ExitCode {
    eprintln!("vibe: {error}");
    ExitCode::from(2)
}

fn run(config: Config, targets: Targets) -> anyhow::Result<Drain> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let telemetry = vibe_telemetry::Telemetry::init(&config.telemetry.settings())
            .context("cannot start telemetry")?;
        let running = app::start(&config, &targets).await;
        let outcome = match running {
            Ok(running) => {
                let shutdown = running.shutdown_trigger();
                tokio::spawn(async move {
                    shutdown_signal().await;
                    shutdown.cancel();
                });
                // Ends after the drain, or at once with the error if a listener fails.
                running.stopped().await
            }
            Err(error) => Err(error),
        };
        telemetry.shutdown();
        Ok(outcome?)
    })
}

/// SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutdown requested"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutdown requested"),
    }
}
