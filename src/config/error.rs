//! Configuration errors.

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read config {path}: {message}")]
    Read { path: String, message: String },
    #[error("invalid config {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid value `{value}` for {what}: {message}")]
    Value { what: String, value: String, message: String },
    #[error("unknown store `{name}` (known stores: {known})")]
    UnknownStore { name: String, known: String },
    #[error("cannot use home directory {path}: {message}")]
    Home { path: String, message: String },
    #[error("no home directory: set --home, ESKER_HOME or HOME")]
    NoHome,
}
