//! Store errors, classified by kind so callers know what to retry.

/// What went wrong, in terms every backend can map onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    NotFound,
    Unauthorized,
    Throttled,
    Timeout,
    NotRestored,
    /// Something is at the object's place, but not an object (a folder, a FIFO, a device).
    Damaged,
    Io,
    Other,
}

/// An error from a store, with the key or location it concerns in the message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> StoreError {
        StoreError { kind, message: message.into(), source: None }
    }

    /// An I/O error on `what` (a path or key), classified by its `ErrorKind`.
    pub fn io(what: &str, error: std::io::Error) -> StoreError {
        let kind = match error.kind() {
            std::io::ErrorKind::NotFound => StoreErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => StoreErrorKind::Unauthorized,
            std::io::ErrorKind::TimedOut => StoreErrorKind::Timeout,
            _ => StoreErrorKind::Io,
        };
        StoreError {
            kind,
            message: format!("{what}: {}", esker_model::io_message(&error)),
            source: Some(Box::new(error)),
        }
    }

    /// `Ok(value)` when the store says the object, upload or job is not there and the caller
    /// takes that as an answer (a delete of something gone, a job that expired); any other
    /// error as it is.
    pub fn unless_not_found<T>(self, value: T) -> Result<T, StoreError> {
        if self.kind == StoreErrorKind::NotFound { Ok(value) } else { Err(self) }
    }

    /// Whether an upload failed for a reason that may pass (throttling, timeouts, the
    /// network): stores that resume uploads keep what they sent for the next run.
    pub fn is_interruption(&self) -> bool {
        matches!(self.kind, StoreErrorKind::Throttled | StoreErrorKind::Timeout | StoreErrorKind::Io)
    }

    /// Whether trying the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, StoreErrorKind::Throttled | StoreErrorKind::Timeout)
    }
}
