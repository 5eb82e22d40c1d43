//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::ConfigSources;
use crate::targets::Target;

/// vibe: the operations cockpit's gRPC service mesh.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// TOML config file. Every key can also be set as VIBE_<SECTION>__<KEY>.
    #[arg(long, global = true, env = "VIBE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every target in one process on embedded defaults.
    Up(UpArgs),
    /// Run some targets, e.g. `--target gateway` or `--target integration,sync`.
    Serve(ServeArgs),
    /// Fill the embedded warehouse with deterministic demo data (idempotent).
    Seed(SeedArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Ask a vibe listener's gRPC health service; exit 0 when it is SERVING.
    Probe(ProbeArgs),
    /// Mints an HS256 token from the configured secret (or `vibe up`'s local one) for
    /// local use, and prints it.
    Token(TokenArgs),
    /// Prints a new compliance keyring (fresh random keys) to keep as a secret: the
    /// value of `compliance.keyring`. To rotate, copy its key into your keyring's [keys]
    /// under a new id and make that id `active`.
    Keyring(KeyringArgs),
}

#[derive(Debug, Args)]
pub struct KeyringArgs {
    /// The id of the generated encryption key (stored with every ciphertext).
    #[arg(long, default_value = "k1")]
    pub key_id: String,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The principal (`sub` claim).
    #[arg(long)]
    pub sub: String,
    /// A role: customer, staff, admin or service; repeat for several.
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    /// How long the token is valid, e.g. 1h or 30m.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub ttl: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The listener, host:port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// The health service name: "" (the whole server), liveness, or a service's full name.
    #[arg(long, default_value = "")]
    pub service: String,
    /// Give up after this long, e.g. 2s.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Seed demo data into the embedded warehouse first (as `vibe seed` does).
    #[arg(long)]
    pub demo: bool,

    #[command(flatten)]
    pub seed: SeedArgs,

    #[command(flatten)]
    pub listen: ListenArgs,
}

/// Demo data size; flags override `[demo]` in the config.
#[derive(Debug, Args, Default)]
pub struct SeedArgs {
    /// The same seed always gives the same data (demo.seed).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Payments over the whole period, e.g. 20000000 for Texas year-3 scale (demo.payments).
    #[arg(long, value_name = "N")]
    pub payments: Option<u64>,
    /// Days of history ending today (demo.days).
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Comma-separated targets: all, gateway, integration, reasoning, memory, sync.
    #[arg(long, value_delimiter = ',', required = true)]
    pub target: Vec<Target>,

    #[command(flatten)]
    pub listen: ListenArgs,
}

/// Listen addresses given as flags; they override the file and the environment.
#[derive(Debug, Args, Default)]
pub struct ListenArgs {
    /// Gateway listener (listen.gateway).
    #[arg(long, value_name = "ADDR")]
    pub gateway_listen: Option<SocketAddr>,
    /// Services' gRPC listener (listen.grpc).
    #[arg(long, value_name = "ADDR")]
    pub grpc_listen: Option<SocketAddr>,
    /// Prometheus metrics listener (listen.metrics).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print the effective values, secrets redacted.
    Check,
}

/// The config sources of a command: the file plus whichever flags were given.
pub fn sources(file: Option<PathBuf>, listen: &ListenArgs, seed: &SeedArgs) -> ConfigSources {
    let addr = |a: Option<SocketAddr>| a.map(|a| toml::Value::String(a.to_string()));
    let number = |n: Option<u64>| {
        n.and_then(|n| i64::try_from(n).ok())
            .map(toml::Value::Integer)
    };
    let flags = crate::config::flags_table(&[
        (&["listen", "gateway"], addr(listen.gateway_listen)),
        (&["listen", "grpc"], addr(listen.grpc_listen)),
        (&["listen", "metrics"], addr(listen.metrics_listen)),
        (&["demo", "seed"], number(seed.seed)),
        (&["demo", "payments"], number(seed.payments)),
        (&["demo", "days"], number(seed.days.map(u64::from))),
    ]);
    ConfigSources { file, flags }
}
