//! One connection type for both catalog backends. Queries are written once with diesel's
//! builders; the `*_any` methods run them on SQLite or, with the `postgres` feature, on
//! PostgreSQL, whichever is open.

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
#[cfg(feature = "postgres")]
use diesel::pg::PgConnection;
use diesel::query_dsl::methods::{ExecuteDsl, LimitDsl};
use diesel::query_dsl::{LoadQuery, RunQueryDsl};
use diesel::result::QueryResult;
use diesel::sqlite::SqliteConnection;

/// An open catalog connection.
pub enum AnyConnection {
    Sqlite(SqliteConnection),
    #[cfg(feature = "postgres")]
    Postgres(PgConnection),
}

/// A query that loads rows of `U` on every backend this build has.
#[cfg(feature = "postgres")]
pub trait LoadAny<'query, U>: LoadQuery<'query, SqliteConnection, U> + LoadQuery<'query, PgConnection, U> {}
#[cfg(feature = "postgres")]
impl<'query, U, T> LoadAny<'query, U> for T where
    T: LoadQuery<'query, SqliteConnection, U> + LoadQuery<'query, PgConnection, U>
{
}
/// A query that loads rows of `U` on every backend this build has.
#[cfg(not(feature = "postgres"))]
pub trait LoadAny<'query, U>: LoadQuery<'query, SqliteConnection, U> {}
#[cfg(not(feature = "postgres"))]
impl<'query, U, T> LoadAny<'query, U> for T where T: LoadQuery<'query, SqliteConnection, U> {}

/// A statement that executes on every backend this build has.
#[cfg(feature = "postgres")]
pub trait ExecuteAny: ExecuteDsl<SqliteConnection> + ExecuteDsl<PgConnection> {}
#[cfg(feature = "postgres")]
impl<T> ExecuteAny for T where T: ExecuteDsl<SqliteConnection> + ExecuteDsl<PgConnection> {}
/// A statement that executes on every backend this build has.
#[cfg(not(feature = "postgres"))]
pub trait ExecuteAny: ExecuteDsl<SqliteConnection> {}
#[cfg(not(feature = "postgres"))]
impl<T> ExecuteAny for T where T: ExecuteDsl<SqliteConnection> {}

/// Runs `$body` with `$connection` bound to the concrete connection, whichever it is.
macro_rules! on_backend {
    ($any:expr, $connection:ident => $body:expr) => {
        match $any {
            AnyConnection::Sqlite($connection) => $body,
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres($connection) => $body,
        }
    };
}
pub(crate) use on_backend;

impl AnyConnection {
    pub fn backend(&self) -> &'static str {
        match self {
            AnyConnection::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(_) => "postgres",
        }
    }

    pub fn batch_execute(&mut self, sql: &str) -> QueryResult<()> {
        on_backend!(self, connection => connection.batch_execute(sql))
    }

    /// Runs `work` in a transaction: on SQLite `BEGIN IMMEDIATE` (take the write lock at
    /// once, so concurrent writers queue instead of failing), on PostgreSQL a plain one.
    pub fn transaction<T, E>(&mut self, work: impl FnOnce(&mut AnyConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error>,
    {
        match self {
            AnyConnection::Sqlite(connection) => {
                AnsiTransactionManager::begin_transaction_sql(connection, "BEGIN IMMEDIATE")?
            }
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(connection) => AnsiTransactionManager::begin_transaction(connection)?,
        }
        let result = work(self);
        let ended = match (&result, &mut *self) {
            (Ok(_), AnyConnection::Sqlite(connection)) => {
                <AnsiTransactionManager as TransactionManager<SqliteConnection>>::commit_transaction(connection)
            }
            #[cfg(feature = "postgres")]
            (Ok(_), AnyConnection::Postgres(connection)) => {
                <AnsiTransactionManager as TransactionManager<PgConnection>>::commit_transaction(connection)
            }
            (Err(_), AnyConnection::Sqlite(connection)) => {
                <AnsiTransactionManager as TransactionManager<SqliteConnection>>::rollback_transaction(connection)
            }
            #[cfg(feature = "postgres")]
            (Err(_), AnyConnection::Postgres(connection)) => {
                <AnsiTransactionManager as TransactionManager<PgConnection>>::rollback_transaction(connection)
            }
        };
        match (result, ended) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(error)) => Err(error.into()),
            (Err(error), _) => Err(error),
        }
    }
}

/// `load`, `first`, `get_result`, `execute` for a query that every backend can run.
pub trait RunAny: Sized {
    fn load_any<'query, U>(self, connection: &mut AnyConnection) -> QueryResult<Vec<U>>
    where
        Self: LoadAny<'query, U>,
    {
        on_backend!(connection, connection => RunQueryDsl::load(self, connection))
    }

    fn get_result_any<'query, U>(self, connection: &mut AnyConnection) -> QueryResult<U>
    where
        Self: LoadAny<'query, U>,
    {
        on_backend!(connection, connection => RunQueryDsl::get_result(self, connection))
    }

    fn first_any<'query, U>(self, connection: &mut AnyConnection) -> QueryResult<U>
    where
        Self: LimitDsl,
        diesel::dsl::Limit<Self>: LoadAny<'query, U>,
    {
        let limited = self.limit(1);
        on_backend!(connection, connection => RunQueryDsl::get_result(limited, connection))
    }

    fn execute_any(self, connection: &mut AnyConnection) -> QueryResult<usize>
    where
        Self: ExecuteAny,
    {
        on_backend!(connection, connection => ExecuteDsl::execute(self, connection))
    }
}

impl<T> RunAny for T {}
