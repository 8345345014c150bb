//! Catalog errors.

/// Why a PostgreSQL catalog cannot be opened by a build without the `postgres` feature.
pub const POSTGRES_NOT_BUILT: &str = "this esker was built without PostgreSQL support; \
     rebuild with `cargo build --release --features postgres` (needs libpq-dev)";

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("failed to open catalog {path}: {message}")]
    Open { path: String, message: String },
    #[error("failed to migrate catalog {path}: {message}")]
    Migrate { path: String, message: String },
    #[error("catalog query failed: {}", with_causes(.0))]
    Query(#[from] diesel::result::Error),
    #[error("catalog {path}: {POSTGRES_NOT_BUILT}")]
    PostgresNotBuilt { path: String },
    #[error("catalog {path} was written by a newer esker (schema {found}); this version knows up to {known}")]
    TooNew { path: String, found: String, known: String },
}

impl CatalogError {
    /// Whether the database itself is damaged (SQLite's `SQLITE_CORRUPT` and `SQLITE_NOTADB`),
    /// as opposed to unreachable or refused.
    pub fn is_corrupt(&self) -> bool {
        let message = match self {
            CatalogError::Query(diesel::result::Error::DatabaseError(_, info)) => info.message().to_string(),
            CatalogError::Open { message, .. } | CatalogError::Migrate { message, .. } => message.clone(),
            _ => return false,
        };
        message.contains("database disk image is malformed") || message.contains("file is not a database")
    }
}

/// `error` and the errors that caused it, outermost first: diesel's own message for a value
/// it could not read names only the column, its cause says what was wrong with it.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let message = inner.to_string();
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = inner.source();
    }
    text
}
