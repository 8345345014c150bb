//! Configuration: home directory, config files, environment, resolved settings.

mod env;
mod error;
mod home;
mod options;
mod settings;

pub use env::{FAILPOINT, LOG, NO_COLOR, var};
pub use error::ConfigError;
pub use home::{HomePaths, absolute};
pub use options::{ArchiveOptions, CatalogOptions, Options, RetrieveOptions, SizeValue, StoreOptions};
pub use settings::{
    ArchiveSettings, AwsClientSettings, DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE, DEFAULT_STORE, GlacierSettings,
    S3_STORAGE_CLASSES, S3Settings, Settings, StoreSettings, default_jobs, parse_count, parse_jobs, parse_size_value,
};
