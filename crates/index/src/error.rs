//! Error types of the index crate: opening/writing/searching the index, parsing queries and sizes.

use std::path::PathBuf;

/// Names of the filters the query language knows, in the order the help text lists them.
pub(crate) const KNOWN_FILTERS: &str =
    "tag, ext, name, path, in, size, modified, kind, state, run, bundle, store, host, owner, group, principal, xattr";

/// A failure while opening, writing or searching the full-text index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The index directory could not be created or inspected.
    #[error("failed to access index directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another writer (in this or another process) holds the index lock.
    #[error("index at {path} is locked by another writer")]
    Locked { path: PathBuf },
    /// This user may read the index but not write it.
    #[error("the index at {path} is not writable by this user")]
    ReadOnly { path: PathBuf },
    /// The index on disk was built with a different schema.
    #[error("index at {path} has an unexpected schema (built by another esker version?)")]
    SchemaMismatch { path: PathBuf },
    /// The commit payload does not hold a file id.
    #[error("index at {path} has an unreadable commit payload `{payload}`")]
    BadPayload { path: PathBuf, payload: String },
    /// Index files that are unreadable, missing or corrupt. The index is derived from the
    /// catalog: `esker reindex` builds it again.
    #[error("the search index at {path} is damaged: {message}")]
    Damaged { path: PathBuf, message: String },
    /// Any other failure reported by tantivy.
    #[error("index error at {path}: {source}")]
    Tantivy {
        path: PathBuf,
        #[source]
        source: tantivy::TantivyError,
    },
}

/// A size such as `500MiB` that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad size `{text}` ({reason})")]
pub struct SizeError {
    /// The text that was given.
    pub text: String,
    /// Why it was rejected.
    pub reason: String,
}

/// A search query that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    #[error("empty query")]
    Empty,
    #[error("unclosed quote in `{fragment}`")]
    UnclosedQuote { fragment: String },
    #[error("unbalanced parenthesis: missing `)`")]
    MissingCloseParen,
    #[error("unbalanced parenthesis: `)` without `(`")]
    UnexpectedCloseParen,
    #[error("empty parentheses `()`")]
    EmptyGroup,
    #[error("the query nests parentheses and `-` more than {limit} deep")]
    TooDeep { limit: usize },
    #[error("nothing after `-` (write `-word` to exclude a word)")]
    DanglingMinus,
    #[error("`{operator}` needs a term on each side")]
    DanglingOperator { operator: String },
    #[error("`{text}` has no letters or digits to search for")]
    NothingToSearch { text: String },
    #[error("unknown filter `{name}:` (known filters: {KNOWN_FILTERS})")]
    UnknownFilter { name: String },
    #[error("missing value after `{name}:`")]
    MissingValue { name: String },
    #[error("bad size `{value}` in `{term}` ({reason})")]
    BadSize { value: String, term: String, reason: String },
    #[error("bad date `{value}` in `{term}` ({reason})")]
    BadDate { value: String, term: String, reason: String },
    #[error("empty range in `{term}` ({reason})")]
    EmptyRange { term: String, reason: String },
    #[error("bad run number `{value}` in `{term}`")]
    BadRun { value: String, term: String },
    #[error(
        "bad folder `{value}` in `{term}` (use an absolute path like /share/projects or a single \
         folder name)"
    )]
    BadFolder { value: String, term: String },
}
