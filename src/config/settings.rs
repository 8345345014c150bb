//! Resolved settings: flags > `ESKER_*` env > user file > system file > built-in defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::env;
use super::error::ConfigError;
use super::home::HomePaths;
use super::options::{ArchiveOptions, Options, RetrieveOptions, SizeValue, StoreOptions};
pub use esker_store::{AwsClientSettings, GlacierSettings, S3_STORAGE_CLASSES, S3Settings, StoreSettings};

pub const DEFAULT_STORE: &str = "local";
pub const DEFAULT_MAX_FILES: u64 = 1000;
pub const DEFAULT_MAX_SIZE: u64 = 500 * 1024 * 1024;
pub const DEFAULT_MAX_COST_USD: f64 = 10.0;
pub const DEFAULT_MAX_RETRIEVE_BYTES: u64 = 100 * 1024 * 1024 * 1024;
const SYSTEM_CONFIG_FILE: &str = "/etc/esker/config.toml";

/// Guards of `esker retrieve`.
#[derive(Debug, Clone, Serialize)]
pub struct RetrieveSettings {
    pub max_cost_usd: f64,
    pub max_bytes: u64,
}

const MIN_PART: u64 = 5 * 1024 * 1024;
const MAX_PART: u64 = 5 * 1024 * 1024 * 1024;

/// What both AWS-backed stores (s3, glacier) take alike: parts in flight per bundle
/// (default 4), attempts per request (default 8), and an http(s) endpoint when one is set.
fn client_settings(name: &str, store: &StoreOptions) -> Result<AwsClientSettings, ConfigError> {
    let what = |key: &str| format!("stores.{name}.{key}");
    let upload_concurrency = positive(&what("upload_concurrency"), store.upload_concurrency.map(|n| n as u64))?
        .map(|n| n as usize)
        .unwrap_or(4);
    let max_attempts =
        positive(&what("max_attempts"), store.max_attempts.map(u64::from))?.map(|n| n as u32).unwrap_or(8);
    if let Some(endpoint) = &store.endpoint_url
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        return Err(ConfigError::Value {
            what: what("endpoint_url"),
            value: endpoint.clone(),
            message: "expected an http:// or https:// URL".into(),
        });
    }
    Ok(AwsClientSettings {
        region: store.region.clone(),
        profile: store.profile.clone(),
        endpoint_url: store.endpoint_url.clone(),
        upload_concurrency,
        max_attempts,
    })
}

fn s3_settings(name: &str, store: StoreOptions) -> Result<S3Settings, ConfigError> {
    let what = |key: &str| format!("stores.{name}.{key}");
    let client = client_settings(name, &store)?;
    let bucket = store.bucket.filter(|bucket| !bucket.is_empty()).ok_or_else(|| ConfigError::Value {
        what: what("bucket"),
        value: String::new(),
        message: "an s3 store needs a bucket".into(),
    })?;
    let mut prefix = store.prefix.unwrap_or_default().trim_start_matches('/').to_string();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    let class = |key: &str, value: Option<String>, default: &str| -> Result<String, ConfigError> {
        let value = value.unwrap_or_else(|| default.to_string()).to_ascii_uppercase();
        if S3_STORAGE_CLASSES.contains(&value.as_str()) {
            Ok(value)
        } else {
            Err(ConfigError::Value {
                what: what(key),
                value,
                message: format!("known storage classes: {}", S3_STORAGE_CLASSES.join(", ")),
            })
        }
    };
    let part_size = match store.part_size {
        None => 16 * 1024 * 1024,
        Some(SizeValue::Bytes(bytes)) => bytes,
        Some(SizeValue::Text(text)) => parse_size_value(&what("part_size"), &text)?,
    };
    if !(MIN_PART..=MAX_PART).contains(&part_size) {
        return Err(ConfigError::Value {
            what: what("part_size"),
            value: part_size.to_string(),
            message: "S3 parts must be between 5 MiB and 5 GiB".into(),
        });
    }
    Ok(S3Settings {
        bucket,
        prefix,
        storage_class: class("storage_class", store.storage_class, "DEEP_ARCHIVE")?,
        manifest_storage_class: class("manifest_storage_class", store.manifest_storage_class, "STANDARD")?,
        client,
        force_path_style: store.force_path_style.unwrap_or(false),
        part_size,
    })
}

const GLACIER_MIN_PART: u64 = 1024 * 1024;
const GLACIER_MAX_PART: u64 = 4 * 1024 * 1024 * 1024;

fn glacier_settings(name: &str, store: StoreOptions) -> Result<GlacierSettings, ConfigError> {
    let what = |key: &str| format!("stores.{name}.{key}");
    let client = client_settings(name, &store)?;
    let vault = store.vault.filter(|vault| !vault.is_empty()).ok_or_else(|| ConfigError::Value {
        what: what("vault"),
        value: String::new(),
        message: "a glacier store needs a vault".into(),
    })?;
    if vault.len() > 255 || !vault.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return Err(ConfigError::Value {
            what: what("vault"),
            value: vault,
            message: "vault names are 1 to 255 characters: letters, digits, `_`, `-` and `.`".into(),
        });
    }
    let account_id = store.account_id.filter(|id| !id.is_empty()).unwrap_or_else(|| "-".to_string());
    if account_id != "-" && !(account_id.len() == 12 && account_id.chars().all(|c| c.is_ascii_digit())) {
        return Err(ConfigError::Value {
            what: what("account_id"),
            value: account_id,
            message: "expected `-` (the credentials' account) or a 12-digit AWS account id".into(),
        });
    }
    let size = |key: &str, value: Option<SizeValue>, default: u64| -> Result<u64, ConfigError> {
        match value {
            None => Ok(default),
            Some(SizeValue::Bytes(bytes)) => Ok(bytes),
            Some(SizeValue::Text(text)) => parse_size_value(&what(key), &text),
        }
    };
    let part_size = size("part_size", store.part_size, 16 * 1024 * 1024)?;
    if !(GLACIER_MIN_PART..=GLACIER_MAX_PART).contains(&part_size)
        || !part_size.is_power_of_two()
        || !part_size.is_multiple_of(GLACIER_MIN_PART)
    {
        return Err(ConfigError::Value {
            what: what("part_size"),
            value: part_size.to_string(),
            message: "glacier parts are a power of two MiB, from 1 MiB to 4 GiB (1MiB, 2MiB, 4MiB, ... 4GiB)".into(),
        });
    }
    let multipart_threshold = size("multipart_threshold", store.multipart_threshold, part_size)?;
    if multipart_threshold == 0 || multipart_threshold > GLACIER_MAX_PART {
        return Err(ConfigError::Value {
            what: what("multipart_threshold"),
            value: multipart_threshold.to_string(),
            message: "expected a size from 1 byte to 4 GiB (the largest single-request upload)".into(),
        });
    }
    Ok(GlacierSettings { vault, account_id, client, part_size, multipart_threshold })
}

/// Defaults for `esker archive` (flags override them per run).
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveSettings {
    pub max_files: u64,
    pub max_size: u64,
    /// Set by `ESKER_JOBS` or `[archive] jobs`; None: one per CPU, see [`ArchiveSettings::jobs`].
    #[serde(serialize_with = "serialize_jobs")]
    pub jobs: Option<usize>,
    pub exclude: Vec<String>,
    pub group_depth: Option<usize>,
}

impl ArchiveSettings {
    /// Packing threads: as set, or one per CPU this process may use. Worked out only when
    /// asked, since counting the CPUs reads several files (see [`default_jobs`]).
    pub fn jobs(&self) -> usize {
        self.jobs.unwrap_or_else(default_jobs)
    }
}

fn serialize_jobs<S: serde::Serializer>(jobs: &Option<usize>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(jobs.unwrap_or_else(default_jobs) as u64)
}

/// Everything a command needs to know about where things are and how to behave.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub home: HomePaths,
    /// The catalog: SQLite in the home by default, or PostgreSQL.
    pub catalog: esker_catalog::CatalogLocation,
    /// Config files that were read, lowest precedence first.
    pub config_files: Vec<PathBuf>,
    pub default_store: String,
    pub stores: BTreeMap<String, StoreSettings>,
    pub archive: ArchiveSettings,
    /// Pricing table for estimates; None = the built-in table.
    pub pricing_file: Option<PathBuf>,
    pub retrieve: RetrieveSettings,
    /// The directory for names; None = local NSS only.
    pub ldap: Option<crate::acl::LdapSettings>,
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Settings {
    /// Loads the system and user config files and the environment. Reads only.
    pub fn load(home_flag: Option<&Path>) -> Result<Settings, ConfigError> {
        let home = HomePaths::resolve(home_flag)?;
        let mut warnings = Vec::new();
        let mut config_files = Vec::new();
        let system_path = env::var(env::SYSTEM_CONFIG).map(PathBuf::from).unwrap_or(PathBuf::from(SYSTEM_CONFIG_FILE));
        let mut options = Options::default();
        for path in [system_path, home.config_file.clone()] {
            if let Some(file) = Options::read(&path, &mut warnings)? {
                options = file.over(options);
                config_files.push(path);
            }
        }
        Self::resolve(home, options, config_files, warnings)
    }

    fn resolve(
        home: HomePaths,
        options: Options,
        config_files: Vec<PathBuf>,
        warnings: Vec<String>,
    ) -> Result<Settings, ConfigError> {
        let settings = Settings {
            catalog: resolve_catalog(&home, options.catalog.url)?,
            stores: resolve_stores(&home, options.stores)?,
            default_store: env::var(env::STORE).or(options.store).unwrap_or_else(|| DEFAULT_STORE.to_string()),
            archive: resolve_archive(options.archive)?,
            retrieve: resolve_retrieve(options.retrieve)?,
            pricing_file: options.pricing.file,
            ldap: ldap_settings(options.ldap)?,
            home,
            config_files,
            warnings,
        };
        Ok(settings)
    }

    /// The named store's settings, or an error listing the known ones.
    pub fn store(&self, name: &str) -> Result<&StoreSettings, ConfigError> {
        self.stores.get(name).ok_or_else(|| ConfigError::UnknownStore {
            name: name.to_string(),
            known: self.stores.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }
}

/// `[ldap]` resolved: None without a url. The password comes from ESKER_LDAP_PASSWORD or
/// `bind_password_file` (first line, read when connecting), never from argv.
fn ldap_settings(options: super::options::LdapOptions) -> Result<Option<crate::acl::LdapSettings>, ConfigError> {
    use crate::acl::ldap_defaults as defaults;
    let Some(url) = options.url else { return Ok(None) };
    if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
        return Err(ConfigError::Value {
            what: "ldap.url".into(),
            value: url,
            message: "expected ldap://HOST[:PORT] or ldaps://HOST[:PORT]".into(),
        });
    }
    let base = options.base.ok_or_else(|| ConfigError::Value {
        what: "ldap.base".into(),
        value: String::new(),
        message: "set the search base, e.g. base = \"dc=example,dc=org\"".into(),
    })?;
    // The file is read when LDAP is first asked (LdapClient::connect), not here: every
    // command loads the settings, and most never talk to LDAP.
    let bind_password = env::var(env::LDAP_PASSWORD);
    let timeout = match options.timeout {
        Some(text) => parse_duration("ldap.timeout", &text)?.max(1),
        None => 5,
    };
    Ok(Some(crate::acl::LdapSettings {
        url,
        starttls: options.starttls.unwrap_or(false),
        bind_dn: options.bind_dn,
        bind_password_file: options.bind_password_file.filter(|_| bind_password.is_none()),
        bind_password,
        base,
        timeout: std::time::Duration::from_secs(timeout),
        user_filter: options.user_filter.unwrap_or_else(|| defaults::DEFAULT_USER_FILTER.into()),
        group_filter: options.group_filter.unwrap_or_else(|| defaults::DEFAULT_GROUP_FILTER.into()),
        sid_filter: options.sid_filter.unwrap_or_else(|| defaults::DEFAULT_SID_FILTER.into()),
        name_attributes: options
            .name_attributes
            .unwrap_or_else(|| defaults::DEFAULT_NAME_ATTRIBUTES.iter().map(|name| name.to_string()).collect()),
    }))
}

/// The `local` store in the home, and every `[stores.NAME]` section.
fn resolve_stores(
    home: &HomePaths,
    sections: BTreeMap<String, StoreOptions>,
) -> Result<BTreeMap<String, StoreSettings>, ConfigError> {
    let mut stores = BTreeMap::new();
    stores.insert(
        DEFAULT_STORE.to_string(),
        StoreSettings::Local { path: home.local_store.clone(), cold_delay: None, cold_lifetime: None },
    );
    for (name, store) in sections {
        let settings = match store.kind.as_str() {
            "local" => local_settings(&name, store)?,
            "s3" => StoreSettings::S3(s3_settings(&name, store)?),
            "glacier" => StoreSettings::Glacier(glacier_settings(&name, store)?),
            other => {
                return Err(ConfigError::Value {
                    what: format!("stores.{name}.kind"),
                    value: other.to_string(),
                    message: "supported store kinds: local, s3, glacier".into(),
                });
            }
        };
        stores.insert(name, settings);
    }
    Ok(stores)
}

fn local_settings(name: &str, store: StoreOptions) -> Result<StoreSettings, ConfigError> {
    let duration = |key: &str, text: Option<String>| {
        text.map(|text| parse_duration(&format!("stores.{name}.{key}"), &text)).transpose()
    };
    Ok(StoreSettings::Local {
        path: store.path.ok_or_else(|| ConfigError::Value {
            what: format!("stores.{name}.path"),
            value: String::new(),
            message: "a local store needs a path".into(),
        })?,
        cold_delay: duration("cold_delay", store.cold_delay)?,
        cold_lifetime: duration("cold_lifetime", store.cold_lifetime)?,
    })
}

/// `ESKER_CATALOG_URL`, else `[catalog] url`, else the SQLite file in the home.
fn resolve_catalog(home: &HomePaths, url: Option<String>) -> Result<esker_catalog::CatalogLocation, ConfigError> {
    let catalog = match env::var(env::CATALOG_URL).or(url) {
        Some(url) => esker_catalog::CatalogLocation::parse(&url).ok_or_else(|| ConfigError::Value {
            what: "catalog url".into(),
            value: esker_catalog::mask_password(&url),
            message: "expected a SQLite path (sqlite://PATH or a plain path), a PostgreSQL URL \
                      (postgres://USER@HOST/DATABASE) or a libpq keyword string (host=HOST dbname=DATABASE)"
                .into(),
        })?,
        None => esker_catalog::CatalogLocation::Sqlite(home.catalog.clone()),
    };
    if let esker_catalog::CatalogLocation::Postgres(url) = &catalog
        && url.has_unescaped_at()
    {
        return Err(ConfigError::Value {
            what: "catalog url".into(),
            value: catalog.display(),
            message: "the password holds an '@': write it as %40 (libpq would take the rest for a host name)".into(),
        });
    }
    if matches!(catalog, esker_catalog::CatalogLocation::Postgres(_)) && !cfg!(feature = "postgres") {
        return Err(ConfigError::Value {
            what: "catalog url".into(),
            value: catalog.display(),
            message: esker_catalog::POSTGRES_NOT_BUILT.into(),
        });
    }
    Ok(catalog)
}

/// `[archive]`, with `ESKER_MAX_FILES`, `ESKER_MAX_SIZE` and `ESKER_JOBS` over it.
fn resolve_archive(archive: ArchiveOptions) -> Result<ArchiveSettings, ConfigError> {
    let max_files = match env::var(env::MAX_FILES) {
        Some(text) => parse_count(env::MAX_FILES, &text)?,
        None => positive("archive.max_files", archive.max_files)?.unwrap_or(DEFAULT_MAX_FILES),
    };
    let max_size = match env::var(env::MAX_SIZE) {
        Some(text) => parse_size_value(env::MAX_SIZE, &text)?,
        None => match archive.max_size {
            Some(SizeValue::Bytes(bytes)) => positive("archive.max_size", Some(bytes))?.unwrap_or(DEFAULT_MAX_SIZE),
            Some(SizeValue::Text(text)) => parse_size_value("archive.max_size", &text)?,
            None => DEFAULT_MAX_SIZE,
        },
    };
    let jobs = match env::var(env::JOBS) {
        Some(text) => Some(parse_jobs(env::JOBS, &text)?),
        None => archive.jobs.map(|jobs| parse_jobs("archive.jobs", &jobs.to_string())).transpose()?,
    };
    Ok(ArchiveSettings {
        max_files,
        max_size,
        jobs,
        exclude: archive.exclude.unwrap_or_default(),
        group_depth: archive.group_depth,
    })
}

/// `[retrieve]`: the guards' limits.
fn resolve_retrieve(retrieve: RetrieveOptions) -> Result<RetrieveSettings, ConfigError> {
    let max_cost_usd = match retrieve.max_cost_usd {
        Some(cost) if cost.is_finite() && cost >= 0.0 => cost,
        Some(cost) => {
            return Err(ConfigError::Value {
                what: "retrieve.max_cost_usd".into(),
                value: cost.to_string(),
                message: "expected a number of dollars, 0 or more".into(),
            });
        }
        None => DEFAULT_MAX_COST_USD,
    };
    let max_bytes = match retrieve.max_bytes {
        Some(SizeValue::Bytes(bytes)) => bytes,
        Some(SizeValue::Text(text)) => parse_size_value("retrieve.max_bytes", &text)?,
        None => DEFAULT_MAX_RETRIEVE_BYTES,
    };
    Ok(RetrieveSettings { max_cost_usd, max_bytes })
}

/// A duration: `90`, `90s`, `5m`, `2h`, `1d` (whole numbers).
pub fn parse_duration(what: &str, text: &str) -> Result<u64, ConfigError> {
    let trimmed = text.trim();
    let (number, unit) = trimmed.split_at(trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len()));
    let scale = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(value) if scale > 0 => Ok(value.saturating_mul(scale)),
        _ => Err(ConfigError::Value {
            what: what.to_string(),
            value: text.to_string(),
            message: "expected a duration such as 30s, 5m, 2h or 1d".into(),
        }),
    }
}

/// A config-file number that must be at least 1.
fn positive(what: &str, value: Option<u64>) -> Result<Option<u64>, ConfigError> {
    match value {
        Some(0) => Err(ConfigError::Value {
            what: what.to_string(),
            value: "0".into(),
            message: "expected a whole number greater than 0".into(),
        }),
        other => Ok(other),
    }
}

/// The CPUs this process may use (affinity and cgroup quota), worked out once: it reads
/// several files under /proc and /sys, so only commands that size thread pools ask.
pub fn default_jobs() -> usize {
    static JOBS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *JOBS.get_or_init(|| std::thread::available_parallelism().map(usize::from).unwrap_or(2))
}

/// A positive whole number (caps, job counts).
pub fn parse_count(what: &str, text: &str) -> Result<u64, ConfigError> {
    match text.trim().parse::<u64>() {
        Ok(value) if value > 0 => Ok(value),
        _ => Err(ConfigError::Value {
            what: what.to_string(),
            value: text.to_string(),
            message: "expected a whole number greater than 0".into(),
        }),
    }
}

/// The most packers an archive runs: each holds a bundle's buffers, and more than this
/// many only contend for the same disks and network.
pub const MAX_JOBS: u64 = 256;

/// A packer count: a whole number from 1 to [`MAX_JOBS`].
pub fn parse_jobs(what: &str, text: &str) -> Result<usize, ConfigError> {
    match text.trim().parse::<u64>() {
        Ok(value) if (1..=MAX_JOBS).contains(&value) => Ok(value as usize),
        _ => Err(ConfigError::Value {
            what: what.to_string(),
            value: text.to_string(),
            message: format!("expected a whole number from 1 to {MAX_JOBS}"),
        }),
    }
}

/// A positive size with optional unit (`500MiB`, `1GB`, `4096`).
pub fn parse_size_value(what: &str, text: &str) -> Result<u64, ConfigError> {
    match esker_index::parse_size(text) {
        Ok(0) => Err(ConfigError::Value {
            what: what.to_string(),
            value: text.to_string(),
            message: "must be greater than 0".into(),
        }),
        Ok(bytes) => Ok(bytes),
        Err(error) => {
            Err(ConfigError::Value { what: what.to_string(), value: text.to_string(), message: error.to_string() })
        }
    }
}
