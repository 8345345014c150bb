//! Catalog errors.

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("failed to open catalog {path}: {message}")]
    Open { path: String, message: String },
    #[error("failed to migrate catalog {path}: {message}")]
    Migrate { path: String, message: String },
    #[error("catalog query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("catalog {path} was written by a newer esker (schema {found}); this version knows up to {known}")]
    TooNew { path: String, found: String, known: String },
}
