//! What config files may say: every field optional, unknown keys reported as warnings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::ConfigError;

/// The contents of one config file (`config.toml`).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct Options {
    /// Name of the default store.
    pub store: Option<String>,
    #[serde(default)]
    pub archive: ArchiveOptions,
    #[serde(default)]
    pub stores: BTreeMap<String, StoreOptions>,
    #[serde(default)]
    pub pricing: PricingOptions,
    #[serde(default)]
    pub retrieve: RetrieveOptions,
    #[serde(default)]
    pub catalog: CatalogOptions,
    #[serde(default)]
    pub ldap: LdapOptions,
}

/// `[ldap]`: the directory that names uids, gids and SIDs (OpenLDAP/Samba or Active Directory).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct LdapOptions {
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: Option<String>,
    /// Upgrade `ldap://` with StartTLS.
    pub starttls: Option<bool>,
    /// Simple bind as this DN (anonymous when unset).
    pub bind_dn: Option<String>,
    /// File holding the bind password (or set ESKER_LDAP_PASSWORD); never on the command line.
    pub bind_password_file: Option<PathBuf>,
    /// Search base, e.g. `dc=example,dc=org`.
    pub base: Option<String>,
    /// Connect and per-operation timeout (`5s`).
    pub timeout: Option<String>,
    /// Filters: `{id}` is the number, `{sid}` the text SID, `{sid_binary}` its escaped bytes.
    pub user_filter: Option<String>,
    pub group_filter: Option<String>,
    pub sid_filter: Option<String>,
    /// Attributes tried in order for the name.
    pub name_attributes: Option<Vec<String>>,
}

impl LdapOptions {
    fn over(self, lower: LdapOptions) -> LdapOptions {
        LdapOptions {
            url: self.url.or(lower.url),
            starttls: self.starttls.or(lower.starttls),
            bind_dn: self.bind_dn.or(lower.bind_dn),
            bind_password_file: self.bind_password_file.or(lower.bind_password_file),
            base: self.base.or(lower.base),
            timeout: self.timeout.or(lower.timeout),
            user_filter: self.user_filter.or(lower.user_filter),
            group_filter: self.group_filter.or(lower.group_filter),
            sid_filter: self.sid_filter.or(lower.sid_filter),
            name_attributes: self.name_attributes.or(lower.name_attributes),
        }
    }
}

/// `[catalog]`: where the catalog lives.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct CatalogOptions {
    /// `sqlite://PATH` (default: catalog.db in the home) or `postgres://user@host/db`.
    pub url: Option<String>,
}

/// `[retrieve]`: guards against surprise bills.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct RetrieveOptions {
    /// Retrievals estimated above this many dollars need `--yes`.
    pub max_cost_usd: Option<f64>,
    /// Retrievals restoring more than this many bytes need `--yes`.
    pub max_bytes: Option<SizeValue>,
}

/// `[pricing]`: the price table used for estimates.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct PricingOptions {
    /// A TOML pricing table replacing the built-in one.
    pub file: Option<PathBuf>,
}

/// `[archive]`: defaults for `esker archive`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct ArchiveOptions {
    pub max_files: Option<u64>,
    pub max_size: Option<SizeValue>,
    pub jobs: Option<usize>,
    pub exclude: Option<Vec<String>>,
    pub group_depth: Option<usize>,
}

/// A size written as bytes (`1048576`) or with a unit (`"500MiB"`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum SizeValue {
    Bytes(u64),
    Text(String),
}

/// `[stores.NAME]`: `kind` says which of the other keys apply.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct StoreOptions {
    pub kind: String,
    /// local: the directory.
    pub path: Option<PathBuf>,
    /// local: simulate cold storage; reads need a restore that completes after this delay
    /// (`30s`, `5m`, `12h`), and restored copies last `cold_lifetime` (default: the days asked).
    pub cold_delay: Option<String>,
    pub cold_lifetime: Option<String>,
    /// s3: bucket, key prefix and storage classes.
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub storage_class: Option<String>,
    pub manifest_storage_class: Option<String>,
    /// s3: where and as whom (credentials come from the AWS chain, never from here).
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub force_path_style: Option<bool>,
    /// s3: multipart part size (5 MiB to 5 GiB) and parts in flight per bundle; glacier:
    /// a power of two MiB from 1 MiB to 4 GiB.
    pub part_size: Option<SizeValue>,
    pub upload_concurrency: Option<usize>,
    /// s3, glacier: attempts per request before a bundle fails (throttling, 5xx, timeouts).
    pub max_attempts: Option<u32>,
    /// glacier: the vault, its account (`-`: the credentials' own), and the bundle size from
    /// which uploads go in parts.
    pub vault: Option<String>,
    pub account_id: Option<String>,
    pub multipart_threshold: Option<SizeValue>,
}

impl Options {
    /// Reads a config file; `Ok(None)` when it does not exist. Unknown keys become warnings.
    pub fn read(path: &Path, warnings: &mut Vec<String>) -> Result<Option<Options>, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if matches!(error.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
                return Ok(None);
            }
            Err(error) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    message: crate::error::io_message(&error),
                });
            }
        };
        let deserializer = toml::Deserializer::parse(&text)
            .map_err(|error| ConfigError::Parse { path: path.display().to_string(), message: error.to_string() })?;
        let mut options: Options = serde_ignored::deserialize(deserializer, |key| {
            warnings.push(format!("{}: unknown config key `{key}` ignored", path.display()));
        })
        .map_err(|error| ConfigError::Parse { path: path.display().to_string(), message: error.to_string() })?;
        // Relative store paths are relative to the file that names them.
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(file) = &options.pricing.file
            && file.is_relative()
        {
            options.pricing.file = Some(base.join(file));
        }
        if let Some(file) = &options.ldap.bind_password_file
            && file.is_relative()
        {
            options.ldap.bind_password_file = Some(base.join(file));
        }
        for store in options.stores.values_mut() {
            if let Some(store_path) = &store.path
                && store_path.is_relative()
            {
                store.path = Some(base.join(store_path));
            }
        }
        Ok(Some(options))
    }

    /// Field by field, `self` wins over `lower`.
    pub fn over(self, lower: Options) -> Options {
        let mut stores = lower.stores;
        stores.extend(self.stores);
        Options {
            store: self.store.or(lower.store),
            archive: ArchiveOptions {
                max_files: self.archive.max_files.or(lower.archive.max_files),
                max_size: self.archive.max_size.or(lower.archive.max_size),
                jobs: self.archive.jobs.or(lower.archive.jobs),
                exclude: self.archive.exclude.or(lower.archive.exclude),
                group_depth: self.archive.group_depth.or(lower.archive.group_depth),
            },
            stores,
            pricing: PricingOptions { file: self.pricing.file.or(lower.pricing.file) },
            catalog: CatalogOptions { url: self.catalog.url.or(lower.catalog.url) },
            ldap: self.ldap.over(lower.ldap),
            retrieve: RetrieveOptions {
                max_cost_usd: self.retrieve.max_cost_usd.or(lower.retrieve.max_cost_usd),
                max_bytes: self.retrieve.max_bytes.or(lower.retrieve.max_bytes),
            },
        }
    }
}
