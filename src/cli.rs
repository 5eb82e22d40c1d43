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
    Up(ListenArgs),
    /// Run some targets, e.g. `--target gateway` or `--target integration,sync`.
    Serve(ServeArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
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

impl ListenArgs {
    pub fn sources(&self, file: Option<PathBuf>) -> ConfigSources {
        let flags = crate::config::flags_table(&[
            (
                &["listen", "gateway"],
                self.gateway_listen.map(|a| a.to_string()),
            ),
            (&["listen", "grpc"], self.grpc_listen.map(|a| a.to_string())),
            (
                &["listen", "metrics"],
                self.metrics_listen.map(|a| a.to_string()),
            ),
        ]);
        ConfigSources { file, flags }
    }
}
