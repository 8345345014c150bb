//! Where esker keeps its state: the home directory and the paths inside it.

use std::path::{Path, PathBuf};

use super::env;
use super::error::ConfigError;

/// Resolved locations of config, catalog, index and the default local store.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HomePaths {
    /// The data directory (catalog, index, store, locks).
    pub data: PathBuf,
    /// The user config file (may not exist).
    pub config_file: PathBuf,
    pub catalog: PathBuf,
    pub index: PathBuf,
    pub local_store: PathBuf,
}

impl HomePaths {
    /// `--home DIR`, else `ESKER_HOME`, else the XDG defaults.
    pub fn resolve(flag: Option<&Path>) -> Result<HomePaths, ConfigError> {
        let explicit = flag.map(Path::to_path_buf).or_else(|| env::var(env::HOME).map(PathBuf::from));
        if let Some(home) = explicit {
            let home = absolute(&home)?;
            return Ok(HomePaths::inside(&home, home.join("config.toml")));
        }
        let user_home = env::var(env::USER_HOME).map(PathBuf::from);
        let data_base = env::var(env::XDG_DATA_HOME)
            .map(PathBuf::from)
            .or_else(|| user_home.as_ref().map(|home| home.join(".local/share")))
            .ok_or(ConfigError::NoHome)?;
        let config_base = env::var(env::XDG_CONFIG_HOME)
            .map(PathBuf::from)
            .or_else(|| user_home.as_ref().map(|home| home.join(".config")))
            .ok_or(ConfigError::NoHome)?;
        Ok(HomePaths::inside(&data_base.join("esker"), config_base.join("esker/config.toml")))
    }

    fn inside(data: &Path, config_file: PathBuf) -> HomePaths {
        HomePaths {
            data: data.to_path_buf(),
            config_file,
            catalog: data.join("catalog.db"),
            index: data.join("index"),
            local_store: data.join("store"),
        }
    }

    /// Creates the data directory (first use), with a clear error when it cannot be.
    pub fn ensure(&self) -> Result<(), ConfigError> {
        std::fs::create_dir_all(&self.data).map_err(|error| ConfigError::Home {
            path: self.data.display().to_string(),
            message: crate::error::io_message(&error),
        })?;
        let probe = self.data.join(".esker-write-test");
        std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe)).map_err(|error| ConfigError::Home {
            path: self.data.display().to_string(),
            message: crate::error::io_message(&error),
        })
    }

    /// Whether the home has been used before (a catalog exists).
    pub fn exists(&self) -> bool {
        self.catalog.exists()
    }
}

/// Makes a path absolute against the current directory, without touching the file system.
pub fn absolute(path: &Path) -> Result<PathBuf, ConfigError> {
    std::path::absolute(path).map_err(|error| ConfigError::Home {
        path: path.display().to_string(),
        message: crate::error::io_message(&error),
    })
}
