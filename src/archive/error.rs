//! Archive errors: bad requests (nothing written) and failures during a run.

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("no path to archive")]
    NoRoots,
    #[error("cannot archive {path}: {message}")]
    Root { path: String, message: String },
    #[error("invalid --exclude pattern `{pattern}`: {message}")]
    BadExclude { pattern: String, message: String },
    #[error(
        "{failed} of {total} bundles could not be stored (run {run} is incomplete; rerun the same command to finish it)"
    )]
    BundlesFailed { failed: u64, total: u64, run: i64 },
    #[error("archive pipeline stopped: {0}")]
    Pipeline(String),
}
