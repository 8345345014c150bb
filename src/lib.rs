//! esker: a searchable catalog for cold archives. This is the application crate: it
//! composes the library crates below it into the commands.
//!
//! ```text
//! esker (this crate: archive, retrieve, poll, status, config, cli, ...)
//!   ├── esker-store    the Store trait; local directory, S3, Glacier vault
//!   ├── esker-bundle   bundle planning, pax tar with offsets and BLAKE3, manifests
//!   ├── esker-catalog  the SQL catalog (diesel: SQLite, PostgreSQL with `postgres`)
//!   ├── esker-index    the tantivy full-text index and the query language
//!   └── esker-model    the values they all share (entries, stats, xattrs, stored objects)
//! ```
//!
//! None of store, bundle, catalog and index depends on another; all of them may use
//! model. ARCHITECTURE.md walks through the data flow.
//!
//! - [`crawl`]: parallel directory walk in depth-first name order with bounded read-ahead.
//! - [`archive`]: the `archive` pipeline (planner, packers, finishers, catalog, indexer),
//!   bundles into stores ([`archive::write_bundle`]), resume after a crash, summaries.
//! - [`search`]: keeping the index in step with the catalog, running queries.
//! - [`retrieve`]: selecting files to get back, estimates per tier, starting restore jobs.
//! - [`poll`]: the poller that finishes restore jobs (claims, downloads, verification).
//! - [`restore`]: byte ranges to request and safe writing of restored files.
//! - [`inventory`]: vault inventories, fetched by the poller and reconciled with the catalog.
//! - [`status`]: what of a tree is safe in cold storage, per folder unit.
//! - [`cost`]: pricing tables (data files) and upload estimates.
//! - [`acl`]: reading xattrs, ACL parsers (POSIX, NFSv4, Windows), names from NSS and LDAP.
//! - [`identities`]: naming the catalog's owners and ACL principals, refreshing the index.
//! - [`config`]: home directory, config files, environment, resolved settings;
//!   [`stores`] opens the stores they name.
//! - [`cli`]: argument parsing and output; `main.rs` only calls [`cli::main`].
//!
//! Promises kept here: a file counts as archived only once its bundle is confirmed by the
//! store; a killed run is resumed by running the same command again, without losing or
//! duplicating files; bad input fails before anything is written.

pub mod acl;
pub mod archive;
pub mod cli;
pub mod config;
pub mod cost;
pub mod crawl;
pub mod error;
pub mod identities;
pub mod inventory;
pub mod poll;
pub mod restore;
pub mod retrieve;
pub mod search;
pub mod status;
pub mod stores;

pub use error::{Error, Result};
