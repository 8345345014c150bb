//! Archive errors: bad requests (nothing written) and failures during a run.

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("no path to archive")]
    NoRoots,
    #[error("cannot archive {path}: {message}")]
    Root { path: String, message: String },
    #[error("invalid --exclude pattern `{pattern}`: {message}")]
    BadExclude { pattern: String, message: String },
    #[error("archive pipeline stopped: {0}")]
    Pipeline(String),
}
