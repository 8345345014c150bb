//! The command-line interface: argument parsing, logging setup, dispatch, exit codes.

mod args;
mod commands;
mod identities;
mod inventory;
mod output;
mod retrieval;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};

use crate::config::Settings;
use crate::error::Error;

/// Runs esker with the process arguments; returns the exit code (0 ok, 1 no match, 2 error).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(code) => code,
        Err(Error::BrokenPipe) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            if let Some(hint) = error.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(error.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    let settings = Settings::load(cli.home.as_deref())?;
    if !cli.quiet {
        for warning in &settings.warnings {
            eprintln!("warning: {warning}");
        }
    }
    match cli.command {
        Command::Archive(args) => commands::archive(&settings, *args, cli.quiet),
        Command::Find(args) => commands::find(&settings, args),
        Command::Bundles(args) => commands::bundles(&settings, args),
        Command::Runs(args) => commands::runs(&settings, args),
        Command::Retrieve(args) => retrieval::retrieve(&settings, *args),
        Command::Jobs(args) => retrieval::jobs(&settings, args),
        Command::Poll(args) => retrieval::poll(&settings, args),
        Command::Status(args) => commands::status(&settings, args),
        Command::Reindex { incremental } => commands::reindex(&settings, cli.quiet, incremental),
        Command::Config(command) => commands::config(&settings, command),
        Command::Catalog(command) => commands::catalog(&settings, command),
        Command::Identities(command) => identities::run(&settings, command),
        Command::Inventory(command) => inventory::inventory(&settings, command),
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "esker=info",
        (false, _) => "esker=debug",
    };
    let filter = crate::config::var(crate::config::LOG).unwrap_or_else(|| default.to_string());
    let color =
        crate::config::var(crate::config::NO_COLOR).is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .without_time()
        .with_target(false)
        .try_init();
}
