//! Opening the catalog: SQLite in WAL mode with a busy timeout, migrations applied on open.

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sqlite::Sqlite;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::error::CatalogError;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The catalog: one connection, owned by one thread at a time.
pub struct Catalog {
    pub(crate) connection: SqliteConnection,
    pub(crate) dir_cache: super::files::DirCache,
    path: PathBuf,
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Catalog, CatalogError> {
        let mut catalog = Self::connect(path)?;
        catalog.migrate()?;
        Ok(catalog)
    }

    /// Opens an existing catalog; `Ok(None)` when there is none (nothing is created).
    pub fn open_existing(path: &Path) -> Result<Option<Catalog>, CatalogError> {
        if !path.exists() {
            return Ok(None);
        }
        Self::open(path).map(Some)
    }

    /// Opens an existing, up-to-date catalog for reading only: never creates or migrates
    /// (dry runs and lookups must write nothing). `Ok(None)` when there is none, or when
    /// it needs a migration first.
    pub fn open_for_reading(path: &Path) -> Result<Option<Catalog>, CatalogError> {
        if !path.exists() {
            return Ok(None);
        }
        let mut catalog = Self::connect(path)?;
        let pending = catalog
            .connection
            .has_pending_migration(SQLITE_MIGRATIONS)
            .map_err(|error| CatalogError::Migrate { path: path.display().to_string(), message: error.to_string() })?;
        Ok((!pending).then_some(catalog))
    }

    fn connect(path: &Path) -> Result<Catalog, CatalogError> {
        let text = path.display().to_string();
        let open_error = |message: String| CatalogError::Open { path: text.clone(), message };
        let mut connection = SqliteConnection::establish(&text).map_err(|error| open_error(error.to_string()))?;
        connection
            .batch_execute(
                "PRAGMA busy_timeout = 30000;
                 PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA cache_size = -16384;
                 PRAGMA temp_store = MEMORY;",
            )
            .map_err(|error| open_error(error.to_string()))?;
        Ok(Catalog { connection, dir_cache: Default::default(), path: path.to_path_buf() })
    }

    fn migrate(&mut self) -> Result<(), CatalogError> {
        let path = self.path.display().to_string();
        let applied = self
            .connection
            .applied_migrations()
            .map_err(|error| CatalogError::Migrate { path: path.clone(), message: error.to_string() })?;
        let known: Vec<String> = MigrationSource::<Sqlite>::migrations(&SQLITE_MIGRATIONS)
            .map_err(|error| CatalogError::Migrate { path: path.clone(), message: error.to_string() })?
            .iter()
            .map(|migration| migration.name().version().to_string())
            .collect();
        if let Some(unknown) = applied.iter().map(ToString::to_string).find(|version| !known.contains(version)) {
            return Err(CatalogError::TooNew {
                path,
                found: unknown,
                known: known.last().cloned().unwrap_or_default(),
            });
        }
        self.connection
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(|error| CatalogError::Migrate { path, message: error.to_string() })?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` in one transaction.
    pub fn transaction<T>(
        &mut self,
        work: impl FnOnce(&mut SqliteConnection) -> Result<T, diesel::result::Error>,
    ) -> Result<T, CatalogError> {
        Ok(self.connection.immediate_transaction(work)?)
    }
}
