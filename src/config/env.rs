//! Every environment variable esker reads, in one place.

/// Home directory holding config, catalog, index and the default local store.
pub const HOME: &str = "ESKER_HOME";
/// Extra config file read instead of the system one (tests, packaging).
pub const SYSTEM_CONFIG: &str = "ESKER_SYSTEM_CONFIG";
/// Catalog location: `sqlite://PATH` or `postgres://…` (overrides `[catalog] url`).
pub const CATALOG_URL: &str = "ESKER_CATALOG_URL";
/// Default store name.
pub const STORE: &str = "ESKER_STORE";
/// Default bundle caps and parallelism for `archive`.
pub const MAX_FILES: &str = "ESKER_MAX_FILES";
pub const MAX_SIZE: &str = "ESKER_MAX_SIZE";
pub const JOBS: &str = "ESKER_JOBS";
/// Log filter (tracing `EnvFilter` syntax), e.g. `esker=debug`.
pub const LOG: &str = "ESKER_LOG";
/// Bind password for `[ldap]` (instead of `bind_password_file`).
pub const LDAP_PASSWORD: &str = "ESKER_LDAP_PASSWORD";
/// Fault injection for crash tests: `NAME[:N]` aborts the process at the N-th time the
/// named point is reached (see `failpoint`).
pub const FAILPOINT: &str = "ESKER_FAILPOINT";
/// Standard: disable colours.
pub const NO_COLOR: &str = "NO_COLOR";
/// XDG base directories.
pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
pub const USER_HOME: &str = "HOME";

/// Reads a variable, treating empty as unset.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
