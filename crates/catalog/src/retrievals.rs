//! Retrievals, their jobs (one per bundle) and files; atomic job claims for pollers.

use diesel::prelude::*;

use super::any::RunAny;
use serde::Serialize;

use super::connection::Catalog;
use super::error::CatalogError;
use super::models::FileRecord;
use super::schema::{bundles, jobs, retrieval_files, retrievals};
use super::states::{JobState, RetrievalFileState, RetrievalState};

/// States a poller still has work for.

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, serde::Deserialize)]
#[diesel(table_name = retrievals)]
pub struct Retrieval {
    pub id: i64,
    pub created_at: i64,
    pub selection: String,
    pub destination: Vec<u8>,
    pub destination_text: String,
    pub tier: String,
    pub days: i32,
    pub overwrite: bool,
    pub state: RetrievalState,
    pub files: i64,
    pub bytes: i64,
    pub estimate: String,
    pub finished_at: Option<i64>,
    /// Set recorded extended attributes on restored files (`retrieve --xattrs`).
    #[serde(default)]
    pub restore_xattrs: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = retrievals)]
pub struct NewRetrieval<'a> {
    pub created_at: i64,
    pub selection: &'a str,
    pub destination: &'a [u8],
    pub destination_text: &'a str,
    pub tier: &'a str,
    pub days: i32,
    pub overwrite: bool,
    pub state: RetrievalState,
    pub files: i64,
    pub bytes: i64,
    pub estimate: &'a str,
    pub restore_xattrs: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, serde::Deserialize)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub id: i64,
    pub retrieval_id: i64,
    pub bundle_id: i64,
    pub store: String,
    pub object_key: String,
    pub tier: String,
    pub range_start: Option<i64>,
    pub range_end: Option<i64>,
    pub backend_job_id: Option<String>,
    pub state: JobState,
    pub error: Option<String>,
    pub requested_at: i64,
    pub ready_at: Option<i64>,
    pub done_at: Option<i64>,
    pub expires: Option<String>,
    pub updated_at: i64,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<i64>,
    pub attempts: i32,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob {
    pub retrieval_id: i64,
    pub bundle_id: i64,
    pub store: String,
    pub object_key: String,
    pub tier: String,
    pub state: JobState,
    pub requested_at: i64,
    pub updated_at: i64,
}

/// A retrieval's file row.
#[derive(Debug, Clone, Queryable, Insertable, Serialize, serde::Deserialize)]
#[diesel(table_name = retrieval_files)]
pub struct RetrievalFile {
    pub retrieval_id: i64,
    pub file_id: i64,
    pub job_id: i64,
    pub state: RetrievalFileState,
    pub error: Option<String>,
}

/// A job with its bundle id and file counts, for `esker jobs`.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    #[serde(flatten)]
    pub job: Job,
    pub bundle: String,
    pub files: i64,
    pub files_done: i64,
    pub files_failed: i64,
    /// The first failed files: catalog file id and why.
    pub failures: Vec<FileFailure>,
}

/// One file a job could not bring back.
#[derive(Debug, Clone, Serialize)]
pub struct FileFailure {
    pub file_id: i64,
    pub error: String,
}

/// What changes on a job.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = jobs)]
pub struct JobUpdate {
    pub state: Option<JobState>,
    pub error: Option<Option<String>>,
    pub ready_at: Option<Option<i64>>,
    pub done_at: Option<Option<i64>>,
    pub expires: Option<Option<String>>,
    pub backend_job_id: Option<Option<String>>,
    pub range_start: Option<Option<i64>>,
    pub range_end: Option<Option<i64>>,
    pub updated_at: Option<i64>,
}

impl Catalog {
    /// Records a retrieval with one job per bundle and its files, in one transaction.
    pub fn create_retrieval(
        &mut self,
        retrieval: &NewRetrieval<'_>,
        plan: Vec<(NewJob, Vec<i64>)>,
    ) -> Result<(i64, Vec<i64>), CatalogError> {
        self.transaction(|connection| {
            let retrieval_id: i64 = diesel::insert_into(retrievals::table)
                .values(retrieval)
                .returning(retrievals::id)
                .get_result_any(connection)?;
            let mut job_ids = Vec::with_capacity(plan.len());
            for (mut job, file_ids) in plan {
                job.retrieval_id = retrieval_id;
                let job_id: i64 =
                    diesel::insert_into(jobs::table).values(&job).returning(jobs::id).get_result_any(connection)?;
                for chunk in file_ids.chunks(5000) {
                    let rows: Vec<_> = chunk
                        .iter()
                        .map(|file_id| {
                            (
                                retrieval_files::retrieval_id.eq(retrieval_id),
                                retrieval_files::file_id.eq(*file_id),
                                retrieval_files::job_id.eq(job_id),
                                retrieval_files::state.eq(RetrievalFileState::Pending),
                            )
                        })
                        .collect();
                    diesel::insert_into(retrieval_files::table).values(&rows).execute_any(connection)?;
                }
                job_ids.push(job_id);
            }
            Ok((retrieval_id, job_ids))
        })
    }

    pub fn retrieval(&mut self, id: i64) -> Result<Option<Retrieval>, CatalogError> {
        Ok(retrievals::table.find(id).select(retrievals::all_columns).first_any(&mut self.connection).optional()?)
    }

    pub fn job(&mut self, id: i64) -> Result<Option<Job>, CatalogError> {
        Ok(jobs::table.find(id).select(jobs::all_columns).first_any(&mut self.connection).optional()?)
    }

    /// Another retrieval's job on the same bundle that is still restoring or readable: its
    /// restore is reused rather than requested again.
    pub fn active_job_for_bundle(&mut self, bundle_id: i64) -> Result<Option<Job>, CatalogError> {
        Ok(jobs::table
            .filter(jobs::bundle_id.eq(bundle_id))
            .filter(jobs::state.eq_any([JobState::Restoring, JobState::Ready, JobState::Downloading]))
            .order(jobs::id.desc())
            .select(jobs::all_columns)
            .first_any(&mut self.connection)
            .optional()?)
    }

    /// Jobs a poller still has work for, oldest first (optionally of one retrieval).
    pub fn open_jobs(&mut self, retrieval: Option<i64>) -> Result<Vec<Job>, CatalogError> {
        let open =
            jobs::table.filter(jobs::state.eq_any(JobState::OPEN)).order(jobs::id.asc()).select(jobs::all_columns);
        Ok(match retrieval {
            Some(retrieval) => open.filter(jobs::retrieval_id.eq(retrieval)).load_any(&mut self.connection)?,
            None => open.load_any(&mut self.connection)?,
        })
    }

    /// Claims a job for `claimer` until `until`, unless another live claim holds it. The
    /// check and the write are one statement, so two pollers never both win.
    pub fn claim_job(
        &mut self,
        id: i64,
        claimer: &str,
        until: i64,
        now: i64,
        stale: &[String],
    ) -> Result<bool, CatalogError> {
        let claimed = diesel::update(
            jobs::table.find(id).filter(
                jobs::claimed_by
                    .is_null()
                    .or(jobs::claimed_until.lt(now))
                    .or(jobs::claimed_by.eq(claimer))
                    .or(jobs::claimed_by.eq_any(stale)),
            ),
        )
        .set((jobs::claimed_by.eq(claimer), jobs::claimed_until.eq(until), jobs::attempts.eq(jobs::attempts + 1)))
        .execute_any(&mut self.connection)?;
        Ok(claimed == 1)
    }

    /// The claimers holding unexpired claims (to spot dead local pollers).
    pub fn job_claimers(&mut self, now: i64) -> Result<Vec<String>, CatalogError> {
        Ok(jobs::table
            .filter(jobs::claimed_until.ge(now))
            .select(jobs::claimed_by)
            .distinct()
            .load_any::<Option<String>>(&mut self.connection)?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Extends a claim this poller holds (long downloads renew it as they go). False when
    /// the claim is no longer ours: the poller must stop working the job.
    pub fn renew_claim(&mut self, id: i64, claimer: &str, until: i64) -> Result<bool, CatalogError> {
        let renewed = diesel::update(jobs::table.find(id).filter(jobs::claimed_by.eq(claimer)))
            .set(jobs::claimed_until.eq(until))
            .execute_any(&mut self.connection)?;
        Ok(renewed == 1)
    }

    /// Files of a job that failed, with the reason (at most `limit`).
    pub fn failed_job_files(&mut self, job_id: i64, limit: i64) -> Result<Vec<(i64, String)>, CatalogError> {
        let rows: Vec<(i64, Option<String>)> = retrieval_files::table
            .filter(retrieval_files::job_id.eq(job_id))
            .filter(retrieval_files::state.eq(RetrievalFileState::Failed))
            .order(retrieval_files::file_id.asc())
            .limit(limit)
            .select((retrieval_files::file_id, retrieval_files::error))
            .load_any(&mut self.connection)?;
        Ok(rows.into_iter().map(|(id, error)| (id, error.unwrap_or_default())).collect())
    }

    pub fn release_job(&mut self, id: i64, claimer: &str) -> Result<(), CatalogError> {
        diesel::update(jobs::table.find(id).filter(jobs::claimed_by.eq(claimer)))
            .set((jobs::claimed_by.eq(None::<String>), jobs::claimed_until.eq(None::<i64>)))
            .execute_any(&mut self.connection)?;
        Ok(())
    }

    pub fn update_job(&mut self, id: i64, update: &JobUpdate) -> Result<(), CatalogError> {
        diesel::update(jobs::table.find(id)).set(update).execute_any(&mut self.connection)?;
        Ok(())
    }

    /// The files a job still has to bring back, in bundle order.
    pub fn pending_job_files(&mut self, job_id: i64) -> Result<Vec<FileRecord>, CatalogError> {
        let ids: Vec<i64> = retrieval_files::table
            .filter(retrieval_files::job_id.eq(job_id))
            .filter(retrieval_files::state.eq(RetrievalFileState::Pending))
            .select(retrieval_files::file_id)
            .load_any(&mut self.connection)?;
        let mut records = self.records_by_ids(&ids)?;
        records.sort_by_key(|record| record.file.header_offset);
        Ok(records)
    }

    pub fn mark_retrieval_file(
        &mut self,
        job_id: i64,
        file_id: i64,
        state: RetrievalFileState,
        error: Option<&str>,
    ) -> Result<(), CatalogError> {
        diesel::update(
            retrieval_files::table
                .filter(retrieval_files::job_id.eq(job_id))
                .filter(retrieval_files::file_id.eq(file_id)),
        )
        .set((retrieval_files::state.eq(state), retrieval_files::error.eq(error)))
        .execute_any(&mut self.connection)?;
        Ok(())
    }

    /// Counts of a job's files by state: (pending, done, failed).
    pub fn job_file_counts(&mut self, job_id: i64) -> Result<(i64, i64, i64), CatalogError> {
        let states: Vec<RetrievalFileState> = retrieval_files::table
            .filter(retrieval_files::job_id.eq(job_id))
            .select(retrieval_files::state)
            .load_any(&mut self.connection)?;
        let count = |wanted: RetrievalFileState| states.iter().filter(|state| **state == wanted).count() as i64;
        Ok((count(RetrievalFileState::Pending), count(RetrievalFileState::Done), count(RetrievalFileState::Failed)))
    }

    /// Closes retrievals whose jobs have all ended.
    pub fn settle_retrievals(&mut self, now: i64) -> Result<(), CatalogError> {
        let open: Vec<i64> = retrievals::table
            .filter(retrievals::state.eq(RetrievalState::Open))
            .select(retrievals::id)
            .load_any(&mut self.connection)?;
        for id in open {
            let states: Vec<JobState> =
                jobs::table.filter(jobs::retrieval_id.eq(id)).select(jobs::state).load_any(&mut self.connection)?;
            if states.iter().all(|state| matches!(state, JobState::Done | JobState::Failed)) {
                let done = states.iter().all(|state| *state == JobState::Done);
                let state = if done { RetrievalState::Done } else { RetrievalState::Failed };
                diesel::update(retrievals::table.find(id))
                    .set((retrievals::state.eq(state), retrievals::finished_at.eq(now)))
                    .execute_any(&mut self.connection)?;
            }
        }
        Ok(())
    }

    /// Every job with its bundle id and file counts, newest last.
    pub fn list_jobs(&mut self) -> Result<Vec<JobView>, CatalogError> {
        let rows: Vec<(Job, String)> = jobs::table
            .inner_join(bundles::table)
            .order(jobs::id.asc())
            .select((jobs::all_columns, bundles::uuid))
            .load_any(&mut self.connection)?;
        let mut views = Vec::with_capacity(rows.len());
        for (job, bundle) in rows {
            let (pending, done, failed) = self.job_file_counts(job.id)?;
            let failures = if failed > 0 {
                self.failed_job_files(job.id, 20)?
                    .into_iter()
                    .map(|(file_id, error)| FileFailure { file_id, error })
                    .collect()
            } else {
                Vec::new()
            };
            views.push(JobView {
                job,
                bundle,
                files: pending + done + failed,
                files_done: done,
                files_failed: failed,
                failures,
            });
        }
        Ok(views)
    }
}
