//! Moving a catalog between backends: export every table as zstd-compressed JSON lines,
//! import them into an empty catalog (SQLite or PostgreSQL) keeping every id.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::any::{AnyConnection, RunAny};
use super::attributes::{IdentityRow, PrincipalRow, XattrRow};
use super::connection::Catalog;
use super::error::CatalogError;
use super::models::{Bundle, Dir, File, Run};
use super::retrievals::{Job, Retrieval, RetrievalFile};
use super::schema::{
    bundles, commit_sequence, dirs, files, identities, jobs, principals, retrieval_files, retrievals, runs, xattrs,
};

const PAGE: i64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("the target catalog is not empty ({0} runs); import needs an empty one")]
    NotEmpty(i64),
    #[error("{path} line {line}: {message}")]
    Format { path: String, line: usize, message: String },
}

/// One line of an export.
#[derive(Serialize, Deserialize)]
#[serde(tag = "table", content = "row", rename_all = "snake_case")]
enum Line {
    Header { esker_catalog_export: u32, schema: Vec<String>, sequence: i64 },
    Runs(Run),
    Bundles(Bundle),
    Dirs(Dir),
    Files(File),
    Retrievals(Retrieval),
    Jobs(Job),
    RetrievalFiles(RetrievalFile),
    Xattrs(XattrRow),
    Principals(PrincipalRow),
    Identities(IdentityRow),
}

/// Counts per table, for people.
#[derive(Debug, Default, Serialize)]
pub struct TransferReport {
    pub runs: u64,
    pub bundles: u64,
    pub dirs: u64,
    pub files: u64,
    pub retrievals: u64,
    pub jobs: u64,
    pub retrieval_files: u64,
    pub xattrs: u64,
    pub principals: u64,
    pub identities: u64,
}

macro_rules! export_paged {
    ($catalog:expr, $table:ident, $row:ty, $variant:ident, $write:expr, $count:expr) => {{
        let mut after = i64::MIN;
        loop {
            let rows: Vec<$row> = $table::table
                .filter($table::id.gt(after))
                .order($table::id.asc())
                .limit(PAGE)
                .select($table::all_columns)
                .load_any(&mut $catalog.connection)
                .map_err(CatalogError::from)?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            for row in rows {
                $count += 1;
                $write(Line::$variant(row))?;
            }
        }
    }};
}

impl Catalog {
    /// Writes every row to `path` (zstd JSON lines), from one consistent snapshot: writers
    /// may go on meanwhile without tearing the export.
    pub fn export(&mut self, path: &Path) -> Result<TransferReport, TransferError> {
        let begin = match self.backend() {
            "postgres" => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            _ => "BEGIN",
        };
        // Migration bookkeeping may write (create its table): read it before the snapshot.
        let schema = self.schema_status()?.applied;
        self.connection.batch_execute(begin).map_err(CatalogError::from)?;
        let result = self.export_rows(path, schema);
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        self.connection.batch_execute(end).map_err(CatalogError::from)?;
        result
    }

    fn export_rows(&mut self, path: &Path, schema: Vec<String>) -> Result<TransferReport, TransferError> {
        let file_error = |error: std::io::Error| TransferError::File {
            path: path.display().to_string(),
            message: esker_model::io_message(&error),
        };
        let file = std::fs::File::create(path).map_err(file_error)?;
        let mut out = zstd::Encoder::new(BufWriter::new(file), 3).map_err(file_error)?;
        let mut write = |line: Line| -> Result<(), TransferError> {
            serde_json::to_writer(&mut out, &line).map_err(|error| TransferError::File {
                path: path.display().to_string(),
                message: error.to_string(),
            })?;
            out.write_all(b"\n").map_err(file_error)
        };
        let sequence: i64 = commit_sequence::table
            .select(commit_sequence::value)
            .first_any(&mut self.connection)
            .map_err(CatalogError::from)?;
        write(Line::Header { esker_catalog_export: 1, schema, sequence })?;
        let mut report = TransferReport::default();
        export_paged!(self, runs, Run, Runs, write, report.runs);
        export_paged!(self, bundles, Bundle, Bundles, write, report.bundles);
        export_paged!(self, dirs, Dir, Dirs, write, report.dirs);
        export_paged!(self, files, File, Files, write, report.files);
        export_paged!(self, retrievals, Retrieval, Retrievals, write, report.retrievals);
        export_paged!(self, jobs, Job, Jobs, write, report.jobs);
        let links: Vec<RetrievalFile> = retrieval_files::table
            .select(retrieval_files::all_columns)
            .load_any(&mut self.connection)
            .map_err(CatalogError::from)?;
        for link in links {
            report.retrieval_files += 1;
            write(Line::RetrievalFiles(link))?;
        }
        let highest: Option<i64> = files::table
            .select(diesel::dsl::max(files::id))
            .first_any(&mut self.connection)
            .map_err(CatalogError::from)?;
        let mut after = 0;
        while after < highest.unwrap_or(0) {
            let up_to = after.saturating_add(PAGE);
            let (xattr_rows, principal_rows) = self.attribute_rows(after, up_to)?;
            for row in xattr_rows {
                report.xattrs += 1;
                write(Line::Xattrs(row))?;
            }
            for row in principal_rows {
                report.principals += 1;
                write(Line::Principals(row))?;
            }
            after = up_to;
        }
        for row in self.identities()? {
            report.identities += 1;
            write(Line::Identities(row))?;
        }
        out.finish().and_then(|mut inner| inner.flush()).map_err(file_error)?;
        Ok(report)
    }

    /// Loads an export into this catalog, which must be empty. One transaction: all or nothing.
    pub fn import(&mut self, path: &Path) -> Result<TransferReport, TransferError> {
        let runs_present: i64 = runs::table.count().get_result_any(&mut self.connection).map_err(CatalogError::from)?;
        if runs_present > 0 {
            return Err(TransferError::NotEmpty(runs_present));
        }
        let name = path.display().to_string();
        let file = std::fs::File::open(path)
            .map_err(|error| TransferError::File { path: name.clone(), message: esker_model::io_message(&error) })?;
        let reader = BufReader::new(
            zstd::Decoder::new(file)
                .map_err(|error| TransferError::File { path: name.clone(), message: error.to_string() })?,
        );
        let mut report = TransferReport::default();
        let backend = self.backend();
        let mut failure: Option<TransferError> = None;
        let result = self.connection.transaction(|connection| -> Result<(), diesel::result::Error> {
            let mut batch = Batch::default();
            for (number, line) in reader.lines().enumerate() {
                let parsed = line
                    .map_err(|error| error.to_string())
                    .and_then(|text| serde_json::from_str::<Line>(&text).map_err(|error| error.to_string()));
                let line = match parsed {
                    Ok(line) => line,
                    Err(message) => {
                        failure = Some(TransferError::Format { path: name.clone(), line: number + 1, message });
                        return Err(diesel::result::Error::RollbackTransaction);
                    }
                };
                batch.push(connection, line, &mut report)?;
            }
            batch.flush(connection)?;
            // Rows may carry commit numbers above the header's (an export taken while a
            // writer committed): continue after the highest one.
            let highest: Option<i64> = files::table.select(diesel::dsl::max(files::seq)).first_any(connection)?;
            diesel::update(commit_sequence::table.find(1))
                .set(commit_sequence::value.eq(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
                    "CASE WHEN value > {0} THEN value ELSE {0} END",
                    highest.unwrap_or(0)
                ))))
                .execute_any(connection)?;
            if backend == "postgres" {
                // Explicit ids do not move the sequences: set them past the imported rows.
                for table in ["runs", "bundles", "dirs", "files", "retrievals", "jobs"] {
                    diesel::sql_query(format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                    ))
                    .execute_any(connection)?;
                }
            }
            Ok(())
        });
        match (result, failure) {
            (_, Some(failure)) => Err(failure),
            (Err(error), None) => Err(CatalogError::from(error).into()),
            (Ok(()), None) => Ok(report),
        }
    }
}

/// Rows waiting for a multi-row INSERT, flushed in table order.
#[derive(Default)]
struct Batch {
    runs: Vec<Run>,
    bundles: Vec<Bundle>,
    dirs: Vec<Dir>,
    files: Vec<File>,
    retrievals: Vec<Retrieval>,
    jobs: Vec<Job>,
    links: Vec<RetrievalFile>,
    xattrs: Vec<XattrRow>,
    principals: Vec<PrincipalRow>,
    identities: Vec<IdentityRow>,
}

const BATCH: usize = 500;

impl Batch {
    fn push(&mut self, connection: &mut AnyConnection, line: Line, report: &mut TransferReport) -> QueryResult<()> {
        match line {
            Line::Header { sequence, .. } => {
                diesel::update(commit_sequence::table.find(1))
                    .set(commit_sequence::value.eq(sequence))
                    .execute_any(connection)?;
            }
            Line::Runs(row) => {
                report.runs += 1;
                self.runs.push(row);
            }
            Line::Bundles(row) => {
                report.bundles += 1;
                self.bundles.push(row);
            }
            Line::Dirs(row) => {
                report.dirs += 1;
                self.dirs.push(row);
            }
            Line::Files(row) => {
                report.files += 1;
                self.files.push(row);
            }
            Line::Retrievals(row) => {
                report.retrievals += 1;
                self.retrievals.push(row);
            }
            Line::Jobs(row) => {
                report.jobs += 1;
                self.jobs.push(row);
            }
            Line::RetrievalFiles(row) => {
                report.retrieval_files += 1;
                self.links.push(row);
            }
            Line::Xattrs(row) => {
                report.xattrs += 1;
                self.xattrs.push(row);
            }
            Line::Principals(row) => {
                report.principals += 1;
                self.principals.push(row);
            }
            Line::Identities(row) => {
                report.identities += 1;
                self.identities.push(row);
            }
        }
        if self.is_full() { self.flush(connection) } else { Ok(()) }
    }

    /// Whether a table's rows reached a batch.
    fn is_full(&self) -> bool {
        [
            self.runs.len(),
            self.bundles.len(),
            self.dirs.len(),
            self.files.len(),
            self.jobs.len(),
            self.links.len(),
            self.xattrs.len(),
            self.principals.len(),
            self.identities.len(),
        ]
        .into_iter()
        .any(|len| len >= BATCH)
    }

    /// Inserts in dependency order (runs before bundles before files…).
    fn flush(&mut self, connection: &mut AnyConnection) -> QueryResult<()> {
        if !self.runs.is_empty() {
            diesel::insert_into(runs::table).values(std::mem::take(&mut self.runs)).execute_any(connection)?;
        }
        if !self.bundles.is_empty() {
            diesel::insert_into(bundles::table).values(std::mem::take(&mut self.bundles)).execute_any(connection)?;
        }
        if !self.dirs.is_empty() {
            diesel::insert_into(dirs::table).values(std::mem::take(&mut self.dirs)).execute_any(connection)?;
        }
        if !self.files.is_empty() {
            diesel::insert_into(files::table).values(std::mem::take(&mut self.files)).execute_any(connection)?;
        }
        if !self.retrievals.is_empty() {
            diesel::insert_into(retrievals::table)
                .values(std::mem::take(&mut self.retrievals))
                .execute_any(connection)?;
        }
        if !self.jobs.is_empty() {
            diesel::insert_into(jobs::table).values(std::mem::take(&mut self.jobs)).execute_any(connection)?;
        }
        if !self.links.is_empty() {
            diesel::insert_into(retrieval_files::table)
                .values(std::mem::take(&mut self.links))
                .execute_any(connection)?;
        }
        if !self.xattrs.is_empty() {
            diesel::insert_into(xattrs::table).values(std::mem::take(&mut self.xattrs)).execute_any(connection)?;
        }
        if !self.principals.is_empty() {
            diesel::insert_into(principals::table)
                .values(std::mem::take(&mut self.principals))
                .execute_any(connection)?;
        }
        if !self.identities.is_empty() {
            diesel::insert_into(identities::table)
                .values(std::mem::take(&mut self.identities))
                .execute_any(connection)?;
        }
        Ok(())
    }
}
