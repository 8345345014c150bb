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
    #[error("catalog query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("catalog {path}: {POSTGRES_NOT_BUILT}")]
    PostgresNotBuilt { path: String },
    #[error("catalog {path} was written by a newer esker (schema {found}); this version knows up to {known}")]
    TooNew { path: String, found: String, known: String },
}
