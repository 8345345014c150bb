//! `esker catalog check`: whether the catalog's own storage is sound. SQLite runs
//! `PRAGMA quick_check` (every page and index structure, without comparing index contents
//! to tables); PostgreSQL checks its pages itself, so esker reads every table through.

use diesel::RunQueryDsl;
#[cfg(feature = "postgres")]
use diesel::sql_types::BigInt;
use diesel::sql_types::Text;

use super::any::AnyConnection;
use super::connection::Catalog;
use super::error::CatalogError;

/// The catalog's tables, each read in full on PostgreSQL.
#[cfg(feature = "postgres")]
const TABLES: [&str; 12] = [
    "runs",
    "bundles",
    "dirs",
    "files",
    "commit_sequence",
    "xattrs",
    "principals",
    "identities",
    "retrievals",
    "jobs",
    "retrieval_files",
    "inventories",
];

#[derive(diesel::QueryableByName)]
struct QuickCheckRow {
    #[diesel(sql_type = Text)]
    quick_check: String,
}

#[cfg(feature = "postgres")]
#[derive(diesel::QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    rows: i64,
}

/// What a check of the catalog's storage found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    pub location: String,
    /// Each problem the database reported; empty when the catalog is sound.
    pub problems: Vec<String>,
    /// Rows read (PostgreSQL) or none (SQLite checks pages, not rows).
    pub rows_read: u64,
}

impl Catalog {
    pub fn check(&mut self) -> Result<CheckReport, CatalogError> {
        let location = self.location().display();
        let mut report = CheckReport { location, problems: Vec::new(), rows_read: 0 };
        match &mut self.connection {
            AnyConnection::Sqlite(connection) => {
                let rows = diesel::sql_query("PRAGMA quick_check").load::<QuickCheckRow>(connection);
                match rows {
                    Ok(rows) => {
                        report.problems =
                            rows.into_iter().map(|row| row.quick_check).filter(|row| row != "ok").collect()
                    }
                    Err(error) => report.problems.push(error.to_string()),
                }
            }
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(connection) => {
                for table in TABLES {
                    let query = format!("SELECT count(*) AS rows FROM {table}");
                    match diesel::sql_query(query).get_result::<CountRow>(connection) {
                        Ok(count) => report.rows_read += count.rows as u64,
                        Err(error) => report.problems.push(format!("{table}: {error}")),
                    }
                }
            }
        }
        Ok(report)
    }
}
