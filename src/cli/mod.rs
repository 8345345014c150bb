//! The command-line interface: argument parsing, logging setup, dispatch, exit codes.

mod archive;
mod args;
mod commands;
mod identities;
mod inventory;
mod output;
mod retrieval;

pub use args::{Cli, Command};

use crate::config::Settings;
use crate::error::Error;

/// A command's exit status. The table is printed by `esker --help` ([`EXIT_CODES`]) and
/// in the README; every command ends with one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitCode(u8);

impl ExitCode {
    /// Done, everything as asked.
    pub const SUCCESS: ExitCode = ExitCode(0);
    /// Nothing matched (`find`, `retrieve`, `identities lookup`), as grep.
    pub const NOTHING_MATCHED: ExitCode = ExitCode(1);
    /// Bad usage, input or configuration, or an error that stopped the command.
    pub const ERROR: ExitCode = ExitCode(2);
    /// Finished, but some items failed or were skipped; each is listed with its reason.
    pub const PARTIAL: ExitCode = ExitCode(3);
    /// An integrity problem: a checksum mismatch, a missing or damaged bundle, a corrupt
    /// catalog.
    pub const INTEGRITY: ExitCode = ExitCode(4);
    /// Stopped by a guard (a retrieval budget) before anything was requested.
    pub const GUARD: ExitCode = ExitCode(5);
}

/// The exit codes, for `--help`.
pub const EXIT_CODES: &str = "Exit codes:
  0  success
  1  nothing matched (find, retrieve, identities lookup)
  2  bad usage, input or configuration, or an error that stopped the command
  3  finished, but some items failed or were skipped (each listed with its reason)
  4  integrity problem: checksum mismatch, missing or damaged bundle, corrupt catalog
  5  stopped by a guard (retrieval budget) before anything was requested";

/// Runs esker with the process arguments; returns the exit status (see [`ExitCode`]).
pub fn main() -> std::process::ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    init_logging(cli.global.verbose, cli.global.quiet);
    let code = match run(cli) {
        Ok(code) => code,
        Err(Error::BrokenPipe) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", output::printable(&error.to_string()));
            if let Some(hint) = error.hint() {
                eprintln!("hint: {hint}");
            }
            error.exit_code()
        }
    };
    std::process::ExitCode::from(code.0)
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    let settings = Settings::load(cli.global.home.as_deref())?;
    if !cli.global.quiet {
        for warning in &settings.warnings {
            eprintln!("warning: {warning}");
        }
    }
    match cli.command {
        Command::Archive(args) => archive::archive(&settings, *args, cli.global.quiet),
        Command::Find(args) => commands::find(&settings, args),
        Command::Bundles(args) => commands::bundles(&settings, args),
        Command::Runs(args) => commands::runs(&settings, args),
        Command::Retrieve(args) => retrieval::retrieve(&settings, *args),
        Command::Jobs(args) => retrieval::jobs(&settings, args),
        Command::Poll(args) => retrieval::poll(&settings, args),
        Command::Status(args) => commands::status(&settings, args),
        Command::Reindex { incremental } => commands::reindex(&settings, cli.global.quiet, incremental),
        Command::Config(command) => commands::config(&settings, command),
        Command::Catalog(command) => commands::catalog(&settings, command),
        Command::Identities(command) => identities::run(&settings, command),
        Command::Inventory(command) => inventory::inventory(&settings, command),
    }
}

/// Log output on stderr: `ESKER_LOG` as an `EnvFilter` directive when set, else warnings
/// (errors with `--quiet`, esker's own info or debug lines with `-v` or `-vv`). The common
/// case skips `EnvFilter`, whose directive parser compiles regular expressions: about 50 us
/// of every command's start.
fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let color =
        crate::config::var(crate::config::NO_COLOR).is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(color).without_time().with_target(false);
    // Fails only when a subscriber is already set (tests calling in twice): keep that one.
    match crate::config::var(crate::config::LOG) {
        Some(filter) => {
            let _ = builder.with_env_filter(tracing_subscriber::EnvFilter::new(filter)).try_init();
        }
        None => {
            let filter = match (quiet, verbose) {
                (true, _) => Targets::new().with_default(LevelFilter::ERROR),
                (false, 0) => Targets::new().with_default(LevelFilter::WARN),
                (false, 1) => Targets::new().with_target("esker", LevelFilter::INFO),
                (false, _) => Targets::new().with_target("esker", LevelFilter::DEBUG),
            };
            let _ = tracing_subscriber::util::SubscriberInitExt::try_init(
                tracing_subscriber::layer::SubscriberExt::with(builder.finish(), filter),
            );
        }
    }
}
