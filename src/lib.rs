//! esker: a searchable catalog for cold archives.
//!
//! # Architecture
//!
//! ```text
//! crawl (parallel, ordered) -> archive::planner -> bundle::Planner (caps, folders together)
//!     -> catalog thread (bundle row `uploading`) -> packers: bundle::write_bundle (pax tar +
//!        BLAKE3 per file and per bundle, offsets) streaming into a store::Store
//!     -> finishers: the store confirms the object (fsync / upload complete), manifest copy
//!     -> catalog thread (files + bundle `stored`, one transaction)
//!     -> indexer thread: search::Follower adds each commit's rows to tantivy, commits at the end
//! find QUERY -> esker_index (parse, search) -> catalog rows -> output
//! ```
//!
//! - [`crawl`]: parallel directory walk in depth-first name order with bounded read-ahead.
//! - [`bundle`]: bundle planning under caps, the pax tar writer, packing and manifests.
//! - [`store`]: the store trait and its backends (local directory, S3, Glacier vault), and
//!   the vault's SHA-256 tree hash ([`store::tree_hash`]).
//! - [`inventory`]: vault inventories, fetched by the poller and reconciled with the catalog.
//! - [`cost`]: pricing tables (data files) and upload estimates.
//! - [`catalog`]: the SQL catalog (diesel, SQLite), migrations in `migrations/`.
//! - [`search`]: keeping the index in step with the catalog, running queries.
//! - [`archive`]: the `archive` command's pipeline, resume after a crash, summaries.
//! - [`retrieve`]: selecting files to get back, estimates per tier, restore jobs, safe extraction.
//! - [`poll`]: the poller that finishes restore jobs (claims, downloads, verification).
//! - [`status`]: what of a tree is safe in cold storage, per folder unit.
//! - [`acl`]: extended attributes, ACL parsers (POSIX, NFSv4, Windows), names from NSS and LDAP.
//! - [`identities`]: naming the catalog's owners and ACL principals, refreshing the index.
//! - [`config`]: home directory, config files, environment, resolved settings.
//! - [`cli`]: argument parsing and output; `main.rs` only calls [`cli::main`].
//!
//! Promises kept here: a file counts as archived only once its bundle is confirmed by the
//! store; a killed run is resumed by running the same command again, without losing or
//! duplicating files; bad input fails before anything is written.

pub mod acl;
pub mod archive;
pub mod buffers;
pub mod bundle;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod cost;
pub mod crawl;
pub mod error;
pub mod failpoint;
pub mod identities;
pub mod inventory;
pub mod poll;
pub mod retrieve;
pub mod search;
pub mod status;
pub mod store;
pub mod time;

pub use error::{Error, Result};
