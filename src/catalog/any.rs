//! One connection type for both catalog backends. Queries are written once with diesel's
//! builders; the `*_any` methods run them on SQLite or PostgreSQL, whichever is open.

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::query_dsl::methods::{ExecuteDsl, LimitDsl};
use diesel::query_dsl::{LoadQuery, RunQueryDsl};
use diesel::result::QueryResult;
use diesel::sqlite::SqliteConnection;

/// An open catalog connection.
pub enum AnyConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl AnyConnection {
    pub fn backend(&self) -> &'static str {
        match self {
            AnyConnection::Sqlite(_) => "sqlite",
            AnyConnection::Postgres(_) => "postgres",
        }
    }

    pub fn batch_execute(&mut self, sql: &str) -> QueryResult<()> {
        match self {
            AnyConnection::Sqlite(connection) => connection.batch_execute(sql),
            AnyConnection::Postgres(connection) => connection.batch_execute(sql),
        }
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
            AnyConnection::Postgres(connection) => AnsiTransactionManager::begin_transaction(connection)?,
        }
        let result = work(self);
        let ended = match (&result, &mut *self) {
            (Ok(_), AnyConnection::Sqlite(connection)) => {
                <AnsiTransactionManager as TransactionManager<SqliteConnection>>::commit_transaction(connection)
            }
            (Ok(_), AnyConnection::Postgres(connection)) => {
                <AnsiTransactionManager as TransactionManager<PgConnection>>::commit_transaction(connection)
            }
            (Err(_), AnyConnection::Sqlite(connection)) => {
                <AnsiTransactionManager as TransactionManager<SqliteConnection>>::rollback_transaction(connection)
            }
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

/// `load`, `first`, `get_result`, `execute` for a query that both backends can run.
pub trait RunAny: Sized {
    fn load_any<'query, U>(self, connection: &mut AnyConnection) -> QueryResult<Vec<U>>
    where
        Self: LoadQuery<'query, SqliteConnection, U> + LoadQuery<'query, PgConnection, U>,
    {
        match connection {
            AnyConnection::Sqlite(connection) => RunQueryDsl::load(self, connection),
            AnyConnection::Postgres(connection) => RunQueryDsl::load(self, connection),
        }
    }

    fn get_result_any<'query, U>(self, connection: &mut AnyConnection) -> QueryResult<U>
    where
        Self: LoadQuery<'query, SqliteConnection, U> + LoadQuery<'query, PgConnection, U>,
    {
        match connection {
            AnyConnection::Sqlite(connection) => RunQueryDsl::get_result(self, connection),
            AnyConnection::Postgres(connection) => RunQueryDsl::get_result(self, connection),
        }
    }

    fn first_any<'query, U>(self, connection: &mut AnyConnection) -> QueryResult<U>
    where
        Self: LimitDsl,
        diesel::dsl::Limit<Self>: LoadQuery<'query, SqliteConnection, U> + LoadQuery<'query, PgConnection, U>,
    {
        let limited = self.limit(1);
        match connection {
            AnyConnection::Sqlite(connection) => RunQueryDsl::get_result(limited, connection),
            AnyConnection::Postgres(connection) => RunQueryDsl::get_result(limited, connection),
        }
    }

    fn execute_any(self, connection: &mut AnyConnection) -> QueryResult<usize>
    where
        Self: ExecuteDsl<SqliteConnection> + ExecuteDsl<PgConnection>,
    {
        match connection {
            AnyConnection::Sqlite(connection) => ExecuteDsl::execute(self, connection),
            AnyConnection::Postgres(connection) => ExecuteDsl::execute(self, connection),
        }
    }
}

impl<T> RunAny for T {}
