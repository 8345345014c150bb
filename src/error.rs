//! `esker::Error`: every module's error in one enum, with hints and exit codes.

use crate::archive::ArchiveError;
use crate::config::ConfigError;
use esker_catalog::CatalogError;
use esker_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bundle(#[from] crate::archive::BundleError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Pricing(#[from] crate::cost::PricingError),
    #[error(transparent)]
    Transfer(#[from] esker_catalog::TransferError),
    #[error(transparent)]
    Index(#[from] esker_index::IndexError),
    #[error("invalid query: {0}")]
    Query(#[from] esker_index::QueryError),
    #[error("{0}")]
    Input(String),
    #[error("{what}: {message}")]
    Io { what: String, message: String },
    #[error("broken pipe")]
    BrokenPipe,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A line of advice shown under the error, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Config(ConfigError::UnknownStore { .. }) => {
                Some("define it as [stores.NAME] in config.toml (see `esker config show`)".into())
            }
            Error::Config(ConfigError::Home { .. }) => Some("choose another home with --home DIR or ESKER_HOME".into()),
            Error::Query(_) => Some(
                "words are ANDed; use \"quotes\" for phrases, -word to exclude, filters like tag:, ext:, in:, size:>10MB, modified:<2020-01-01"
                    .into(),
            ),
            Error::Index(esker_index::IndexError::Locked { .. }) => {
                Some("another esker process is writing the index; try again when it is done".into())
            }
            Error::Index(esker_index::IndexError::SchemaMismatch { .. } | esker_index::IndexError::Damaged { .. }) => {
                Some("the index is derived data: run `esker reindex` to rebuild it from the catalog".into())
            }
            _ => None,
        }
    }

    /// The exit status this error ends a command with: 4 when it shows damage (a corrupt
    /// catalog or index), 2 for everything else.
    pub fn exit_code(&self) -> crate::cli::ExitCode {
        match self {
            Error::Catalog(error) if error.is_corrupt() => crate::cli::ExitCode::INTEGRITY,
            Error::Index(esker_index::IndexError::Damaged { .. }) => crate::cli::ExitCode::INTEGRITY,
            _ => crate::cli::ExitCode::ERROR,
        }
    }

    pub fn io(what: impl std::fmt::Display, error: &std::io::Error) -> Error {
        Error::Io { what: what.to_string(), message: io_message(error) }
    }
}

pub use esker_model::io_message;
