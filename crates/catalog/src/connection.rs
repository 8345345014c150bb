//! Opening the catalog: SQLite (WAL, busy timeout) or PostgreSQL, migrations applied on
//! open, safely when several processes start at once.

use std::path::{Path, PathBuf};

use diesel::migration::MigrationSource;
#[cfg(feature = "postgres")]
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use serde::Serialize;

use super::any::{AnyConnection, RunAny, on_backend};
use super::error::CatalogError;
use super::secret::ConnectionString;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// Key of the PostgreSQL advisory lock held while migrating.
#[cfg(feature = "postgres")]
const MIGRATION_LOCK: i64 = 0x6573_6b65_7200_0001;

/// The versions of the migrations in `source`, for backend `DB`.
fn versions<DB: diesel::backend::Backend>(source: &EmbeddedMigrations) -> diesel::migration::Result<Vec<String>>
where
    EmbeddedMigrations: MigrationSource<DB>,
{
    let migrations = MigrationSource::<DB>::migrations(source)?;
    Ok(migrations.iter().map(|migration| migration.name().version().to_string()).collect())
}

/// Where the catalog lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogLocation {
    Sqlite(PathBuf),
    /// A `postgres://` URL or a libpq keyword string (password from it, `PGPASSWORD` or
    /// `~/.pgpass`).
    Postgres(ConnectionString),
}

impl CatalogLocation {
    /// Parses `sqlite://PATH`, `postgres://…`, `postgresql://…`, a libpq keyword string
    /// (`host=… dbname=…`), or a plain path.
    pub fn parse(text: &str) -> Option<CatalogLocation> {
        if text.starts_with("postgres://")
            || text.starts_with("postgresql://")
            || ConnectionString::is_keyword_string(text)
        {
            Some(CatalogLocation::Postgres(ConnectionString::new(text)))
        } else if let Some(path) = text.strip_prefix("sqlite://") {
            (!path.is_empty()).then(|| CatalogLocation::Sqlite(PathBuf::from(path)))
        } else if text.contains("://") {
            None
        } else {
            Some(CatalogLocation::Sqlite(PathBuf::from(text)))
        }
    }

    /// For people: the URL with any password masked.
    pub fn display(&self) -> String {
        match self {
            CatalogLocation::Sqlite(path) => format!("sqlite://{}", path.display()),
            CatalogLocation::Postgres(url) => url.masked(),
        }
    }
}

impl Serialize for CatalogLocation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.display())
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:********@host/db`, and every other
/// form of password a connection string can hold.
pub fn mask_password(url: &str) -> String {
    ConnectionString::new(url).masked()
}

/// Migration state, for `esker catalog status`.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaStatus {
    pub backend: &'static str,
    pub location: String,
    pub applied: Vec<String>,
    pub pending: Vec<String>,
}

/// The catalog: one connection, owned by one thread at a time.
pub struct Catalog {
    pub(crate) connection: AnyConnection,
    pub(crate) dir_cache: super::files::DirCache,
    location: CatalogLocation,
}

impl Catalog {
    /// Opens (creating if needed) the catalog and brings its schema up to date.
    pub fn open(location: &CatalogLocation) -> Result<Catalog, CatalogError> {
        let mut catalog = Self::connect(location)?;
        catalog.migrate()?;
        Ok(catalog)
    }

    /// Opens an existing catalog (migrating it if needed); `Ok(None)` when there is none.
    /// A SQLite file is never created here; a PostgreSQL database counts as existing once
    /// its schema was created.
    pub fn open_existing(location: &CatalogLocation) -> Result<Option<Catalog>, CatalogError> {
        if let CatalogLocation::Sqlite(path) = location
            && !path.exists()
        {
            return Ok(None);
        }
        let mut catalog = Self::connect(location)?;
        let applied = catalog.applied()?;
        if applied.is_empty() {
            return Ok(None);
        }
        catalog.migrate_from(&applied)?;
        Ok(Some(catalog))
    }

    /// Opens an existing, up-to-date catalog for reading only: never creates or migrates
    /// (dry runs and lookups must write nothing). `Ok(None)` when there is none, or when
    /// it needs a migration first.
    pub fn open_for_reading(location: &CatalogLocation) -> Result<Option<Catalog>, CatalogError> {
        if let CatalogLocation::Sqlite(path) = location
            && !path.exists()
        {
            return Ok(None);
        }
        let mut catalog = Self::connect(location)?;
        let status = catalog.schema_status()?;
        Ok((!status.applied.is_empty() && status.pending.is_empty()).then_some(catalog))
    }

    fn connect(location: &CatalogLocation) -> Result<Catalog, CatalogError> {
        let open_error = |message: String| CatalogError::Open { path: location.display(), message };
        let connection = match location {
            CatalogLocation::Sqlite(path) => AnyConnection::Sqlite(open_sqlite(path).map_err(open_error)?),
            #[cfg(feature = "postgres")]
            CatalogLocation::Postgres(url) => AnyConnection::Postgres(
                PgConnection::establish(url.expose())
                    .map_err(|error| open_error(url.scrub(error.to_string().trim())))?,
            ),
            #[cfg(not(feature = "postgres"))]
            CatalogLocation::Postgres(_) => return Err(CatalogError::PostgresNotBuilt { path: location.display() }),
        };
        Ok(Catalog { connection, dir_cache: Default::default(), location: location.clone() })
    }

    fn migrate_error(&self, error: impl std::fmt::Display) -> CatalogError {
        CatalogError::Migrate { path: self.location.display(), message: error.to_string() }
    }

    fn applied(&mut self) -> Result<Vec<String>, CatalogError> {
        let applied = on_backend!(&mut self.connection, connection => connection.applied_migrations());
        // A database without the migrations table has none applied.
        Ok(applied.map(|list| list.iter().map(ToString::to_string).collect()).unwrap_or_default())
    }

    fn known(&self) -> Result<Vec<String>, CatalogError> {
        let known = match &self.connection {
            AnyConnection::Sqlite(_) => versions::<Sqlite>(&SQLITE_MIGRATIONS),
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(_) => versions::<Pg>(&POSTGRES_MIGRATIONS),
        };
        known.map_err(|error| self.migrate_error(error))
    }

    /// Applied and pending migrations.
    pub fn schema_status(&mut self) -> Result<SchemaStatus, CatalogError> {
        let applied = self.applied()?;
        let pending = self.known()?.into_iter().filter(|version| !applied.contains(version)).collect();
        Ok(SchemaStatus { backend: self.connection.backend(), location: self.location.display(), applied, pending })
    }

    /// Applies pending migrations. Two processes starting at once do not both migrate: on
    /// PostgreSQL an advisory lock, on SQLite a lock file beside the database.
    pub fn migrate(&mut self) -> Result<Vec<String>, CatalogError> {
        let applied = self.applied()?;
        self.migrate_from(&applied)
    }

    /// [`Catalog::migrate`] when the applied migrations were just read.
    fn migrate_from(&mut self, applied: &[String]) -> Result<Vec<String>, CatalogError> {
        let known = self.known()?;
        if let Some(unknown) = applied.iter().find(|version| !known.contains(version)) {
            return Err(CatalogError::TooNew {
                path: self.location.display(),
                found: unknown.clone(),
                known: known.last().cloned().unwrap_or_default(),
            });
        }
        if known.iter().all(|version| applied.contains(version)) {
            return Ok(Vec::new());
        }
        let _file_lock = match &self.location {
            CatalogLocation::Sqlite(path) => Some(lock_file(path).map_err(|error| self.migrate_error(error))?),
            CatalogLocation::Postgres(_) => None,
        };
        let result = match &mut self.connection {
            AnyConnection::Sqlite(connection) => connection
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|done| done.iter().map(ToString::to_string).collect::<Vec<_>>()),
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(connection) => {
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                    .execute(connection)
                    .map_err(|error| CatalogError::Migrate { path: String::new(), message: error.to_string() })?;
                let done = connection
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|done| done.iter().map(ToString::to_string).collect::<Vec<_>>());
                let _ = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(connection);
                done
            }
        };
        result.map_err(|error| self.migrate_error(error))
    }

    /// Reverts the newest migration (for operators and tests).
    pub fn revert_last(&mut self) -> Result<String, CatalogError> {
        let reverted = match &mut self.connection {
            AnyConnection::Sqlite(connection) => {
                connection.revert_last_migration(SQLITE_MIGRATIONS).map(|v| v.to_string())
            }
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(connection) => {
                connection.revert_last_migration(POSTGRES_MIGRATIONS).map(|v| v.to_string())
            }
        };
        reverted.map_err(|error| self.migrate_error(error))
    }

    pub fn location(&self) -> &CatalogLocation {
        &self.location
    }

    pub fn backend(&self) -> &'static str {
        self.connection.backend()
    }

    /// Runs `work` in one transaction.
    pub fn transaction<T>(
        &mut self,
        work: impl FnOnce(&mut AnyConnection) -> Result<T, diesel::result::Error>,
    ) -> Result<T, CatalogError> {
        Ok(self.connection.transaction(work)?)
    }

    /// Takes the next commit number inside the current transaction; its row lock is held
    /// until commit, so numbers become visible in order (see migration 4).
    pub(crate) fn next_sequence(connection: &mut AnyConnection) -> Result<i64, diesel::result::Error> {
        use super::schema::commit_sequence;
        diesel::update(commit_sequence::table.find(1))
            .set(commit_sequence::value.eq(commit_sequence::value + 1))
            .returning(commit_sequence::value)
            .get_result_any(connection)
    }
}

fn lock_file(database: &Path) -> std::io::Result<std::fs::File> {
    let mut name = database.as_os_str().to_owned();
    name.push(".migrate.lock");
    let file = std::fs::File::create(PathBuf::from(name))?;
    file.lock()?;
    Ok(file)
}

/// Opens a SQLite catalog: read-write in WAL mode when this user may write it and its
/// folder, else read-only, so reading commands work on a shared or read-only catalog.
fn open_sqlite(path: &Path) -> Result<SqliteConnection, String> {
    let writable = |path: &Path| rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok();
    let folder = path.parent().filter(|folder| !folder.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !path.exists() || (writable(path) && writable(folder)) {
        let mut connection =
            SqliteConnection::establish(&path.display().to_string()).map_err(|error| error.to_string())?;
        diesel::connection::SimpleConnection::batch_execute(
            &mut connection,
            &format!(
                "PRAGMA busy_timeout = 30000;
                 PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA wal_autocheckpoint = 8192;
                 {READ_PRAGMAS}"
            ),
        )
        .map_err(|error| error.to_string())?;
        return Ok(connection);
    }
    // A WAL catalog opens read-only when its -shm file exists or can be made; in a
    // folder nobody writes while it is closed, SQLite reads it as immutable.
    let read_only = |extra: &str| -> Result<SqliteConnection, String> {
        let mut connection = SqliteConnection::establish(&format!("file:{}?mode=ro{extra}", uri_path(path)))
            .map_err(|e| e.to_string())?;
        diesel::connection::SimpleConnection::batch_execute(
            &mut connection,
            &format!("PRAGMA busy_timeout = 30000; {READ_PRAGMAS} SELECT count(*) FROM sqlite_master;"),
        )
        .map_err(|error| error.to_string())?;
        Ok(connection)
    };
    read_only("").or_else(|_| read_only("&immutable=1"))
}

/// A path as the path of a SQLite `file:` URI.
fn uri_path(path: &Path) -> String {
    let text = path.display().to_string();
    text.replace('%', "%25").replace('?', "%3f").replace('#', "%23")
}

/// How every SQLite connection reads: a 16 MiB page cache, temporary tables in memory.
const READ_PRAGMAS: &str = "PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;";
