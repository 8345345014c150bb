//! Opening the catalog: SQLite (WAL, busy timeout) or PostgreSQL, migrations applied on
//! open, safely when several processes start at once.

use std::path::{Path, PathBuf};

use diesel::migration::MigrationSource;
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use serde::Serialize;

use super::any::{AnyConnection, RunAny};
use super::error::CatalogError;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// Key of the PostgreSQL advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x6573_6b65_7200_0001;

/// The newest SQLite migration this build knows: a catalog it has opened has that schema.
pub fn newest_sqlite_migration() -> Option<String> {
    versions::<Sqlite>(&SQLITE_MIGRATIONS).ok()?.into_iter().max()
}

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
    /// A `postgres://` URL (password from the URL, `PGPASSWORD` or `~/.pgpass`).
    Postgres(String),
}

impl CatalogLocation {
    /// Parses `sqlite://PATH`, `postgres://…`, `postgresql://…`, or a plain path.
    pub fn parse(text: &str) -> Option<CatalogLocation> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Some(CatalogLocation::Postgres(text.to_string()))
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
            CatalogLocation::Postgres(url) => mask_password(url),
        }
    }
}

impl Serialize for CatalogLocation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.display())
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:********@host/db`.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((credentials, host)) = rest.rsplit_once('@') else { return url.to_string() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:********@{host}"),
        None => url.to_string(),
    }
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

    /// Opens a SQLite catalog that is known to exist with this build's schema (`find`'s
    /// catalog stamp vouches for it, taken from its files as they are): without reading the
    /// applied migrations.
    pub fn open_current(location: &CatalogLocation) -> Result<Catalog, CatalogError> {
        Self::connect(location)
    }

    /// Opens a SQLite catalog for reading as an unchanging file (SQLite's `immutable`):
    /// no locks, no write-ahead log, no shared-memory index. Opening a catalog the usual way
    /// takes about 40 system calls before the first read, resetting the log's shared index
    /// among them (`ftruncate` and a write per page): a third of a `find` that matches a
    /// few files (BENCHMARKS.md).
    ///
    /// Only for a caller that knows the log is empty, so that the file holds every commit,
    /// and that checks afterwards that nothing wrote meanwhile: this connection sees no
    /// writer, and a checkpoint that rewrites pages while it reads them goes unnoticed
    /// here. `find` does both with its catalog stamp.
    pub fn open_snapshot(path: &Path) -> Result<Catalog, CatalogError> {
        let location = CatalogLocation::Sqlite(path.to_owned());
        let open_error = |message: String| CatalogError::Open { path: location.display(), message };
        let mut connection =
            SqliteConnection::establish(&snapshot_uri(path)).map_err(|error| open_error(error.to_string()))?;
        diesel::connection::SimpleConnection::batch_execute(&mut connection, READ_PRAGMAS)
            .map_err(|error| open_error(error.to_string()))?;
        Ok(Catalog { connection: AnyConnection::Sqlite(connection), dir_cache: Default::default(), location })
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
            CatalogLocation::Sqlite(path) => {
                let text = path.display().to_string();
                let mut connection =
                    SqliteConnection::establish(&text).map_err(|error| open_error(error.to_string()))?;
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
                .map_err(|error| open_error(error.to_string()))?;
                AnyConnection::Sqlite(connection)
            }
            CatalogLocation::Postgres(url) => AnyConnection::Postgres(
                PgConnection::establish(url).map_err(|error| open_error(error.to_string().trim().to_string()))?,
            ),
        };
        Ok(Catalog { connection, dir_cache: Default::default(), location: location.clone() })
    }

    fn migrate_error(&self, error: impl std::fmt::Display) -> CatalogError {
        CatalogError::Migrate { path: self.location.display(), message: error.to_string() }
    }

    fn applied(&mut self) -> Result<Vec<String>, CatalogError> {
        let applied = match &mut self.connection {
            AnyConnection::Sqlite(connection) => connection.applied_migrations(),
            AnyConnection::Postgres(connection) => connection.applied_migrations(),
        };
        // A database without the migrations table has none applied.
        Ok(applied.map(|list| list.iter().map(ToString::to_string).collect()).unwrap_or_default())
    }

    fn known(&self) -> Result<Vec<String>, CatalogError> {
        let known = match &self.connection {
            AnyConnection::Sqlite(_) => versions::<Sqlite>(&SQLITE_MIGRATIONS),
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
            AnyConnection::Postgres(connection) => {
                connection.revert_last_migration(POSTGRES_MIGRATIONS).map(|v| v.to_string())
            }
        };
        reverted.map_err(|error| self.migrate_error(error))
    }

    pub fn location(&self) -> &CatalogLocation {
        &self.location
    }

    /// Ends the catalog of a process that exits next. A SQLite catalog whose write-ahead
    /// log is empty (nothing was written since the last checkpoint) is left for the exit to
    /// release: closing it would checkpoint nothing and delete the log and its shared-memory
    /// index, which the next process would create again, about 0.2 ms of an `esker find`.
    /// SQLite's locks die with the process, and an empty log costs the next reader nothing.
    /// Otherwise the catalog is closed: SQLite then checkpoints the log into the database
    /// (a log left full would be read through by every later process), and a PostgreSQL
    /// server is told goodbye instead of logging a lost connection.
    pub fn close_at_exit(self) {
        let wal_is_empty = match &self.location {
            CatalogLocation::Sqlite(path) => {
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                std::fs::metadata(&wal).is_ok_and(|metadata| metadata.len() == 0)
            }
            CatalogLocation::Postgres(_) => false,
        };
        if wal_is_empty {
            std::mem::forget(self);
        }
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

/// How every SQLite connection reads: a 16 MiB page cache, temporary tables in memory.
const READ_PRAGMAS: &str = "PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;";

/// The SQLite URI that opens `path` read-only and immutable. Every byte outside the
/// unreserved set is percent-encoded, so `?`, `#` and `%` in a path stay part of it (SQLite
/// decodes the escapes back to the same bytes).
fn snapshot_uri(path: &Path) -> String {
    use std::fmt::Write;
    use std::os::unix::ffi::OsStrExt;
    // An absolute path gets an empty authority (`file:///srv/…`): after a bare `file:`, a
    // path starting with `//` would be read as a host name.
    let mut uri = String::from(if path.is_absolute() { "file://" } else { "file:" });
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            let _ = write!(uri, "%{byte:02X}");
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The write-ahead log of a catalog that was only read stays for the next process; one
    /// that holds writes is checkpointed into the database and removed.
    #[test]
    fn close_at_exit_keeps_an_empty_log_and_checkpoints_a_full_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wal = dir.path().join("catalog.db-wal");
        let location = CatalogLocation::Sqlite(dir.path().join("catalog.db"));
        let mut writer = Catalog::open(&location).expect("create");
        writer.create_run(&super::super::NewRun::for_tests()).expect("write");
        assert!(std::fs::metadata(&wal).expect("log").len() > 0);
        writer.close_at_exit();
        assert!(!wal.exists(), "checkpointed and removed");

        // Last, since the connection stays open until this process exits.
        let mut reader = Catalog::open_existing(&location).expect("open").expect("exists");
        assert_eq!(reader.list_runs().expect("runs").len(), 1, "the write reached the database");
        reader.close_at_exit();
        assert_eq!(std::fs::metadata(&wal).expect("log left").len(), 0);
    }

    /// A snapshot opens the file it is given, whatever characters its path holds, and
    /// writes nothing beside it (no log, no shared-memory index, no lock file).
    #[test]
    fn a_snapshot_opens_awkward_paths_and_leaves_no_files() {
        assert_eq!(snapshot_uri(Path::new("/a/b.db")), "file:///a/b.db?mode=ro&immutable=1");
        assert_eq!(snapshot_uri(Path::new("/a b/c?d#e%f.db")), "file:///a%20b/c%3Fd%23e%25f.db?mode=ro&immutable=1");
        assert_eq!(snapshot_uri(Path::new("a/b.db")), "file:a/b.db?mode=ro&immutable=1");
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path().join("a b?c#d%e=f&g");
        std::fs::create_dir(&folder).expect("mkdir");
        let path = folder.join("catalog.db");
        let mut writer = Catalog::open(&CatalogLocation::Sqlite(path.clone())).expect("create");
        writer.create_run(&super::super::NewRun::for_tests()).expect("write");
        drop(writer);
        let before: Vec<_> =
            std::fs::read_dir(&folder).expect("list").map(|entry| entry.expect("entry").file_name()).collect();
        let mut snapshot = Catalog::open_snapshot(&path).expect("snapshot");
        assert_eq!(snapshot.list_runs().expect("runs").len(), 1);
        assert!(snapshot.create_run(&super::super::NewRun::for_tests()).is_err(), "read-only");
        drop(snapshot);
        let after: Vec<_> =
            std::fs::read_dir(&folder).expect("list").map(|entry| entry.expect("entry").file_name()).collect();
        assert_eq!(before, after);
        // A path that starts with two slashes is still a path, not a host.
        let doubled = PathBuf::from(format!("/{}", path.display()));
        assert_eq!(Catalog::open_snapshot(&doubled).expect("snapshot").list_runs().expect("runs").len(), 1);
        // A file that is not there is an error, not a new catalog.
        assert!(Catalog::open_snapshot(&folder.join("missing.db")).is_err());
        assert!(!folder.join("missing.db").exists());
    }
}
