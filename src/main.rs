//! The `vibe` binary: parse flags, load config, run targets until SIGTERM/SIGINT.
//!
//! Exit codes: 0 after a clean drain, 1 on a runtime failure (or a drain cut off by its
//! deadline), 2 on a usage or configuration error.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use vibe::app::{self, Drain};
use vibe::cli::{Cli, Command, ConfigCommand, ListenArgs, SeedArgs, sources};
use vibe::config::{self, Config};
use vibe::targets::Targets;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let no_seed = SeedArgs::default();
    let (sources, targets, demo) = match &cli.command {
        Command::Up(up) => (
            sources(cli.config.clone(), &up.listen, &up.seed),
            Some(Targets::all()),
            up.demo,
        ),
        Command::Serve(serve) => (
            sources(cli.config.clone(), &serve.listen, &no_seed),
            Some(Targets::from_list(&serve.target)),
            false,
        ),
        Command::Seed(seed) => (
            sources(cli.config.clone(), &ListenArgs::default(), seed),
            None,
            true,
        ),
        Command::Probe(args) => return probe(args),
        Command::Keyring(args) => return keyring(&args.key_id),
        Command::Token(args) => {
            return match config::load(&sources(
                cli.config.clone(),
                &ListenArgs::default(),
                &no_seed,
            )) {
                Ok(config) => token(config, args),
                Err(error) => config_error(&error),
            };
        }
        Command::Config(ConfigCommand::Check) => {
            return match config::load(&sources(
                cli.config.clone(),
                &ListenArgs::default(),
                &no_seed,
            )) {
                Ok(config) => {
                    print!("{}", config.to_redacted_toml());
                    ExitCode::SUCCESS
                }
                Err(error) => config_error(&error),
            };
        }
    };
    let mut config = match config::load(&sources) {
        Ok(config) => config,
        Err(error) => return config_error(&error),
    };
    if matches!(cli.command, Command::Up(_))
        && let Err(error) = vibe::local_secret::apply(&mut config, true)
            .and_then(|()| vibe::local_secret::apply_keyring(&mut config))
    {
        return config_error(&error);
    }
    match run(config, targets, demo) {
        Ok(Drain::Complete) => ExitCode::SUCCESS,
        Ok(Drain::DeadlineExceeded) => ExitCode::FAILURE,
        Err(error) => match error.downcast_ref::<app::AppError>() {
            // A config problem found only while starting (e.g. seeding BigQuery).
            Some(app::AppError::Config(error)) => config_error(error),
            _ => {
                eprintln!("vibe: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn keyring(key_id: &str) -> ExitCode {
    let text = vibe_compliance::Keyring::generate(key_id);
    // Parsing it back checks the id.
    if let Err(error) = vibe_compliance::Keyring::parse(&text) {
        eprintln!("vibe keyring: --key-id: {error}");
        return ExitCode::from(2);
    }
    print!("{text}");
    ExitCode::SUCCESS
}

fn probe(args: &vibe::cli::ProbeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vibe probe: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(vibe::probe::probe(&args.addr, &args.service, args.timeout)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vibe probe: {error}");
            ExitCode::FAILURE
        }
    }
}

fn token(mut config: Config, args: &vibe::cli::TokenArgs) -> ExitCode {
    if let Err(error) = vibe::local_secret::apply(&mut config, false) {
        return config_error(&error);
    }
    for role in &args.roles {
        if vibe_gateway::Role::from_claim(role).is_none() {
            eprintln!("vibe token: --role {role:?} is not one of customer, staff, admin, service");
            return ExitCode::from(2);
        }
    }
    let Some(secret) = config.gateway.auth.hs256_secret.as_ref() else {
        eprintln!(
            "vibe token: gateway.auth.hs256_secret is not set: tokens for key pairs come from your identity provider"
        );
        return ExitCode::from(2);
    };
    let request = vibe_gateway::auth::MintRequest {
        issuer: config.gateway.auth.issuer.clone(),
        audience: config.gateway.auth.audience.clone(),
        subject: args.sub.clone(),
        roles: args.roles.iter().map(|r| r.to_ascii_lowercase()).collect(),
        ttl: args.ttl,
    };
    match vibe_gateway::auth::mint_hs256(secret.value(), &request) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("vibe token: {error}");
            ExitCode::FAILURE
        }
    }
}

fn config_error(error: &config::ConfigError) -> ExitCode {
    eprintln!("vibe: {error}");
    ExitCode::from(2)
}

/// Seeds demo data when asked, then runs `targets` until a signal (or returns after
/// seeding when there are none).
fn run(config: Config, targets: Option<Targets>, demo: bool) -> anyhow::Result<Drain> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let telemetry = vibe_telemetry::Telemetry::init(&config.telemetry.settings())
            .context("cannot start telemetry")?;
        let outcome = serve(&config, targets, demo).await;
        telemetry.shutdown();
        Ok(outcome?)
    })
}

async fn serve(
    config: &Config,
    targets: Option<Targets>,
    demo: bool,
) -> Result<Drain, app::AppError> {
    if demo {
        let outcome = app::seed_demo(config).await?;
        tracing::info!(?outcome, "demo data ready");
    }
    let Some(targets) = targets else {
        return Ok(Drain::Complete);
    };
    let running = app::start(config, &targets).await?;
    let shutdown = running.shutdown_trigger();
    tokio::spawn(async move {
        shutdown_signal().await;
        shutdown.cancel();
    });
    // Ends after the drain, or at once with the error if a listener fails.
    running.stopped().await
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
