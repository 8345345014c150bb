//! Command-line arguments (clap). Parsing only; the commands live beside this module.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// esker: make cold archives searchable.
///
/// Packs file trees into tar bundles in cold storage, catalogs every file, and finds any
/// file again. State lives in a home directory (--home, ESKER_HOME, or ~/.local/share/esker).
#[derive(Debug, Parser)]
#[command(name = "esker", version, propagate_version = true, max_term_width = 100, after_help = super::EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The options every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Home directory: config.toml, catalog.db, index/ and the default store live there.
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Hide progress bars and warnings.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// More log output (repeat for more).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Archive files and folders into bundles in a store, and catalog them.
    Archive(Box<ArchiveArgs>),
    /// Search the catalog (words, "phrases", -exclusions, tag: ext: in: size: modified: …).
    Find(FindArgs),
    /// List bundles.
    Bundles(ListArgs),
    /// List archive runs.
    Runs(ListArgs),
    /// Get files back: estimate, request restores, download and verify what is ready.
    Retrieve(Box<RetrieveArgs>),
    /// List retrieval jobs and their state.
    Jobs(ListArgs),
    /// Finish retrieval jobs: check restores, download, verify, extract.
    Poll(PollArgs),
    /// Show what of a tree is archived: per folder unit, new, changed, partial, missing or
    /// synchronized. Reads the disk and the catalog only.
    Status(StatusArgs),
    /// Rebuild the full-text index from the catalog (or only catch up with new rows).
    Reindex {
        /// Only add what the catalog gained since the index was last written (other hosts'
        /// runs on a shared catalog); `find` does this by itself.
        #[arg(long)]
        incremental: bool,
    },
    /// Show or inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Operate the catalog: schema migrations, moving it between SQLite and PostgreSQL.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Names of file owners and ACL principals (local NSS, then LDAP/AD from [ldap]).
    #[command(subcommand)]
    Identities(IdentitiesCommand),
    /// Glacier vault inventories: request one, then compare it with the catalog.
    #[command(subcommand)]
    Inventory(InventoryCommand),
}

#[derive(Debug, Subcommand)]
pub enum IdentitiesCommand {
    /// List the principals the catalog knows (uid:, gid:, sid:, …) and their names.
    List {
        /// Only those without a name.
        #[arg(long)]
        unresolved: bool,
        #[arg(long)]
        json: bool,
    },
    /// Look up the principals that have no name yet (e.g. LDAP was down during a run), or
    /// every principal with --all; rewrites the index entries of files whose names changed.
    Refresh {
        /// Look up every principal again (names can change in the directory).
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Resolve principals now, without saving anything (checks the [ldap] settings).
    Lookup {
        /// `uid:N`, `gid:N`, `sid:S-1-…`
        #[arg(required = true, value_name = "PRINCIPAL")]
        principals: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Start an inventory-retrieval job for a vault store; `esker poll` fetches its output
    /// when the vault has it ready (typically after 3 to 5 hours).
    Request {
        /// The store (kind = "glacier").
        #[arg(value_name = "STORE")]
        store: String,
        /// Print what was requested as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare the latest fetched inventory with the catalog: archives the catalog does not
    /// know, bundles missing from the vault, size or tree hash mismatches.
    Show {
        #[arg(value_name = "STORE")]
        store: String,
        /// The whole reconciliation as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Files or folders to archive.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Tag the run's files (repeat, or separate with commas).
    #[arg(long = "tag", short = 't', value_name = "TAG")]
    pub tags: Vec<String>,

    /// Free text describing the run; searchable.
    #[arg(long, short = 'd', value_name = "TEXT")]
    pub description: Option<String>,

    /// Most files per bundle [default: 1000].
    #[arg(long, value_name = "N")]
    pub max_files: Option<String>,

    /// Most bytes of file data per bundle, e.g. 500MiB, 1GB [default: 500MiB].
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,

    /// Leave out names or paths matching this glob (repeatable), e.g. '*.tmp', '/share/scratch/**'.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Only files last accessed more than DAYS days ago.
    #[arg(long, value_name = "DAYS")]
    pub atime_older: Option<u64>,

    /// Only files accessed within the last DAYS days.
    #[arg(long, value_name = "DAYS")]
    pub atime_newer: Option<u64>,

    /// Keep each folder at this depth below a root (with its subfolders) in bundles of its own.
    #[arg(long, value_name = "N")]
    pub group_depth: Option<usize>,

    /// Store to write to [default: the config's `store`, else `local`].
    #[arg(long, value_name = "NAME")]
    pub store: Option<String>,

    /// Bundles packed in parallel [default: number of CPUs].
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<String>,

    /// Crawl and plan only: print what would be archived, write nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Find changed files by content (BLAKE3) rather than size, times and inode; reads
    /// every file that was archived before.
    #[arg(long)]
    pub checksum: bool,

    /// Also record extended attributes and ACLs (POSIX, NFSv4, SMB/CIFS), in the catalog and
    /// in the bundles' pax headers; searchable with xattr: and principal:.
    #[arg(long)]
    pub xattrs: bool,

    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FindArgs {
    /// The query; several words are joined with spaces. Quote phrases inside single quotes
    /// (esker find '"annual report" ext:pdf'); put `--` before a word starting with `-`
    /// (esker find -- report -draft), or quote the whole query (esker find 'report -draft').
    #[arg(required = true, value_name = "QUERY")]
    pub query: Vec<String>,

    /// Most matches to show; 0 = all.
    #[arg(long, short = 'l', default_value_t = 100, value_name = "N")]
    pub limit: usize,

    /// Every version of each path (one per run that recorded it), with deletion markers;
    /// by default only the latest version is shown.
    #[arg(long)]
    pub all_versions: bool,

    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RetrieveArgs {
    /// Files to get back, in the `find` query language (quote it).
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,

    /// Every file of this bundle (repeatable).
    #[arg(long = "bundle", value_name = "ID")]
    pub bundles: Vec<String>,

    /// The file with this catalog id, as `find --json` shows it (repeatable).
    #[arg(long = "file", value_name = "ID")]
    pub files: Vec<i64>,

    /// The versions recorded by this run (default: each path's latest version).
    #[arg(long, value_name = "ID", conflicts_with = "before")]
    pub run: Option<i64>,

    /// The latest versions recorded before this date (YYYY-MM-DD[THH:MM[:SS]], UTC).
    #[arg(long, value_name = "DATE")]
    pub before: Option<String>,

    /// Folder to restore into; files keep their original paths below it.
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,

    /// Restore speed for cold classes: bulk (cheapest), standard, expedited.
    #[arg(long, default_value = "bulk", value_parser = ["bulk", "standard", "expedited"])]
    pub tier: String,

    /// Days restored copies stay readable.
    #[arg(long, default_value_t = 7, value_name = "N")]
    pub days: u32,

    /// Print the estimate and do nothing else.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Go ahead even when a guard (everything selected, cost or size above the limits) stops.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Replace files that already exist in the destination.
    #[arg(long)]
    pub overwrite: bool,

    /// Also restore extended attributes recorded by `archive --xattrs` (ACLs, security.*
    /// and trusted.* need the rights to set them; refusals are reported, not fatal).
    #[arg(long)]
    pub xattrs: bool,

    /// Print the estimate or outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The folder to check.
    #[arg(value_name = "ROOT")]
    pub root: PathBuf,

    /// Depth of the folder units below ROOT.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub depth: usize,

    /// One JSON object per unit.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,

    /// CSV with a header line.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Args)]
pub struct PollArgs {
    /// One pass, then exit (for cron or a systemd timer).
    #[arg(long)]
    pub once: bool,

    /// Seconds between passes when looping.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub interval: u64,

    /// Print each pass's report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Apply pending schema migrations (esker also does this on first use).
    Migrate,
    /// Show the backend, the location and the applied and pending migrations.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Check the catalog's storage (SQLite: PRAGMA quick_check); exit 4 when damaged.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Write every catalog row to FILE (zstd-compressed JSON lines).
    Export {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Load an export into the configured catalog, which must be empty.
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved settings (secrets masked).
    Show {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}
