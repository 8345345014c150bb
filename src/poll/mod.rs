//! The poller: finishes retrieval jobs. Every pass claims each open job atomically (so two
//! pollers never work the same job), brings it as far as it can, and releases it. All state
//! lives in the catalog, so a poller can be stopped and started at any time.

mod job;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

pub use job::{JobOutcome, start_restore, tier_of};

use crate::config::Settings;
use crate::error::Result;
use esker_catalog::{Catalog, JobState};
use esker_store::Store;

/// How long a claim lasts without renewal (a poller that died frees its jobs after this).
pub const LEASE_SECONDS: i64 = 15 * 60;

/// What one pass did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PollReport {
    pub jobs_checked: u64,
    pub jobs_done: u64,
    pub jobs_waiting: u64,
    pub jobs_failed: u64,
    /// Jobs another live poller is working on.
    pub jobs_busy: u64,
    pub files_done: u64,
    pub files_failed: u64,
    /// Of the failed files, those whose bytes did not match the catalog (exit code 4).
    pub files_corrupt: u64,
    /// Of the done files, those already in place as archived, and those that changed
    /// while they were archived (exit code 3).
    pub files_present: u64,
    pub files_changed: u64,
    /// Bundles found missing from their store or replaced by something else (exit code 4).
    pub bundles_damaged: u64,
    pub bytes_downloaded: u64,
    /// Vault inventories fetched in this pass, still waiting, and failed.
    pub inventories_done: u64,
    pub inventories_waiting: u64,
    pub inventories_failed: u64,
    pub errors: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// This process, as it appears in claims.
pub fn claimer() -> String {
    format!("{}:{}", crate::archive::hostname(), std::process::id())
}

/// Claims held by processes of this host that no longer exist.
fn dead_local_claimers(catalog: &mut Catalog, now: i64) -> Result<Vec<String>> {
    let host = crate::archive::hostname();
    Ok(catalog
        .job_claimers(now)?
        .into_iter()
        .filter(|claim| match claim.rsplit_once(':') {
            Some((claim_host, pid)) => claim_host == host && !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            None => false,
        })
        .collect())
}

/// One pass over the open jobs (of one retrieval, or all).
pub fn poll_once(settings: &Settings, catalog: &mut Catalog, retrieval: Option<i64>) -> Result<PollReport> {
    let me = claimer();
    let mut report = PollReport::default();
    let mut stores: HashMap<String, Arc<dyn Store>> = HashMap::new();
    for job in catalog.open_jobs(retrieval)? {
        report.jobs_checked += 1;
        let now = esker_model::time::now_seconds();
        let stale = dead_local_claimers(catalog, now)?;
        if !catalog.claim_job(job.id, &me, now + LEASE_SECONDS, now, &stale)? {
            report.jobs_busy += 1;
            continue;
        }
        let result = work_claimed(settings, catalog, &mut stores, job.id);
        catalog.release_job(job.id, &me)?;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(error) => JobOutcome {
                state: Some(job.state),
                errors: vec![format!("job {}: {error}", job.id)],
                ..JobOutcome::default()
            },
        };
        match outcome.state {
            None => report.jobs_busy += 1,
            Some(JobState::Done) => report.jobs_done += 1,
            Some(JobState::Failed) => report.jobs_failed += 1,
            Some(_) => report.jobs_waiting += 1,
        }
        report.files_done += outcome.files_done;
        report.files_failed += outcome.files_failed;
        report.files_corrupt += outcome.files_corrupt;
        report.files_present += outcome.files_present;
        report.files_changed += outcome.files_changed;
        report.bundles_damaged += outcome.bundles_damaged;
        report.bytes_downloaded += outcome.bytes_downloaded;
        report.errors.extend(outcome.errors);
        report.warnings.extend(outcome.warnings);
    }
    catalog.settle_retrievals(esker_model::time::now_seconds())?;
    if retrieval.is_none() {
        crate::inventory::poll_inventories(settings, catalog, &mut report)?;
    }
    Ok(report)
}

fn work_claimed(
    settings: &Settings,
    catalog: &mut Catalog,
    stores: &mut HashMap<String, Arc<dyn Store>>,
    job_id: i64,
) -> Result<JobOutcome> {
    // Re-read under the claim: another poller may have finished it meanwhile.
    let Some(job) = catalog.job(job_id)? else { return Ok(JobOutcome::default()) };
    if !job.state.is_open() {
        // Finished by another poller since this pass listed it: not ours to count.
        return Ok(JobOutcome { state: None, ..JobOutcome::default() });
    }
    let retrieval = catalog
        .retrieval(job.retrieval_id)?
        .ok_or_else(|| crate::Error::Input(format!("job {job_id} has no retrieval")))?;
    let store = crate::stores::open_cached(stores, settings, &job.store)?;
    job::work(catalog, store.as_ref(), &job, &retrieval)
}
