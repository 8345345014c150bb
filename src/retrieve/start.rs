//! `esker retrieve`: select, estimate, guard against surprise bills, record the retrieval
//! and its jobs, request the restores, and download whatever is readable at once.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use serde::Serialize;

use super::estimate::{RetrievalEstimate, TierEstimate, estimate};
use super::select::{Selection, select};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::poll::{PollReport, poll_once};
use esker_catalog::{Bundle, Catalog, JobState, JobUpdate, NewJob, NewRetrieval, RetrievalState};
use esker_store::{RestoreState, StoreErrorKind};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct RetrieveRequest {
    pub query: Option<String>,
    pub bundles: Vec<String>,
    pub files: Vec<i64>,
    /// Which version of each path a query selects.
    pub version: super::select::Version,
    pub destination: PathBuf,
    pub tier: String,
    pub days: u32,
    pub dry_run: bool,
    pub yes: bool,
    pub overwrite: bool,
    /// Set the recorded extended attributes (and ACLs) on restored files.
    pub xattrs: bool,
}

/// How a retrieve ended.
#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RetrieveOutcome {
    /// `--dry-run`: the estimate only.
    Estimate { estimate: RetrievalEstimate },
    /// A guard stopped it; nothing was requested.
    Refused { estimate: RetrievalEstimate, reasons: Vec<String> },
    /// Recorded and started; `report` is the first pass over its jobs.
    Started {
        retrieval: i64,
        estimate: RetrievalEstimate,
        jobs: u64,
        /// Bundles whose restore was already under way or done (not requested again).
        restores_reused: u64,
        report: PollReport,
    },
    /// Nothing matched.
    Empty,
}

pub fn retrieve(settings: &Settings, request: &RetrieveRequest) -> Result<RetrieveOutcome> {
    let Some(mut catalog) = Catalog::open_existing(&settings.catalog)? else {
        return Ok(RetrieveOutcome::Empty);
    };
    let selection =
        select(settings, &mut catalog, request.query.as_deref(), &request.bundles, &request.files, request.version)?;
    if selection.files() == 0 {
        return Ok(RetrieveOutcome::Empty);
    }
    let estimate = estimate(settings, &mut catalog, &selection, request.days)?;
    let chosen = chosen_tier(&estimate, &request.tier)?;
    if request.dry_run {
        return Ok(RetrieveOutcome::Estimate { estimate });
    }
    let reasons = guard_reasons(settings, &mut catalog, &selection, &estimate, &chosen)?;
    if !reasons.is_empty() && !request.yes {
        return Ok(RetrieveOutcome::Refused { estimate, reasons });
    }
    let (retrieval_id, job_ids, bundles) = record_retrieval(&mut catalog, &selection, &estimate, &chosen, request)?;
    let restores_reused = request_restores(settings, &mut catalog, &job_ids, &bundles, request.days.max(1))?;
    let report = poll_once(settings, &mut catalog, Some(retrieval_id))?;
    Ok(RetrieveOutcome::Started {
        retrieval: retrieval_id,
        estimate,
        jobs: job_ids.len() as u64,
        restores_reused,
        report,
    })
}

/// The tier asked for, or the only one where the selection needs no restore (local
/// stores, classes readable at once).
fn chosen_tier(estimate: &RetrievalEstimate, tier: &str) -> Result<TierEstimate> {
    let flat = estimate.tiers.len() == 1 && matches!(estimate.tiers[0].tier.as_str(), "local" | "instant");
    let chosen = if flat { estimate.tiers.first() } else { estimate.tier(tier) };
    chosen.cloned().ok_or_else(|| {
        let offered: Vec<&str> = estimate.tiers.iter().map(|tier| tier.tier.as_str()).collect();
        Error::Input(format!(
            "tier `{tier}` is not offered for this selection's storage class (offered: {})",
            offered.join(", ")
        ))
    })
}

/// Why this retrieval needs `--yes`: it takes everything, or costs or moves more than the
/// configured guards allow. Empty when it may go ahead.
fn guard_reasons(
    settings: &Settings,
    catalog: &mut Catalog,
    selection: &Selection,
    estimate: &RetrievalEstimate,
    chosen: &TierEstimate,
) -> Result<Vec<String>> {
    let mut reasons = Vec::new();
    if selection.everything {
        reasons.push("no query, bundle or file was given: this retrieves everything in the catalog".to_string());
    } else if catalog.stored_path_count()? <= selection.files() as i64 {
        reasons.push("the selection is every stored file in the catalog".to_string());
    }
    if chosen.cost_usd > settings.retrieve.max_cost_usd {
        reasons.push(format!(
            "the estimate (${:.2} with tier {}) is above retrieve.max_cost_usd (${:.2})",
            chosen.cost_usd, chosen.tier, settings.retrieve.max_cost_usd
        ));
    }
    let bytes = estimate.bytes_restored.max(estimate.bytes_downloaded);
    if bytes > settings.retrieve.max_bytes {
        reasons.push(format!(
            "it moves {} (above retrieve.max_bytes, {})",
            esker_index::format_size(bytes),
            esker_index::format_size(settings.retrieve.max_bytes)
        ));
    }
    Ok(reasons)
}

/// Records the retrieval with one job per bundle (in the destination's canonical form,
/// created if missing); returns its id, the jobs' ids and their bundles.
fn record_retrieval(
    catalog: &mut Catalog,
    selection: &Selection,
    estimate: &RetrievalEstimate,
    chosen: &TierEstimate,
    request: &RetrieveRequest,
) -> Result<(i64, Vec<i64>, Vec<Bundle>)> {
    std::fs::create_dir_all(&request.destination).map_err(|error| Error::io(request.destination.display(), &error))?;
    let destination = std::fs::canonicalize(&request.destination)
        .map_err(|error| Error::io(request.destination.display(), &error))?;
    let now = esker_model::time::now_seconds();
    let mut plan = Vec::new();
    let mut bundles = Vec::new();
    for (bundle_id, records) in &selection.by_bundle {
        let bundle = catalog.bundle(*bundle_id)?.ok_or_else(|| Error::Input(format!("bundle {bundle_id} vanished")))?;
        let job = NewJob {
            retrieval_id: 0,
            bundle_id: *bundle_id,
            store: bundle.store.clone(),
            object_key: bundle.object_key.clone(),
            tier: chosen.tier.clone(),
            state: JobState::Requested,
            requested_at: now,
            updated_at: now,
        };
        plan.push((job, records.iter().map(|record| record.file.id).collect()));
        bundles.push(bundle);
    }
    let estimate_json = serde_json::to_string(estimate).unwrap_or_else(|_| "{}".into());
    let retrieval = NewRetrieval {
        created_at: now,
        selection: &selection.description,
        destination: destination.as_os_str().as_bytes(),
        destination_text: &destination.display().to_string(),
        tier: &chosen.tier,
        days: request.days as i32,
        overwrite: request.overwrite,
        restore_xattrs: request.xattrs,
        state: RetrievalState::Open,
        files: selection.files() as i64,
        bytes: selection.bytes() as i64,
        estimate: &estimate_json,
    };
    let (retrieval_id, job_ids) = catalog.create_retrieval(&retrieval, plan)?;
    Ok((retrieval_id, job_ids, bundles))
}

/// Requests the restores of the jobs' bundles. A restore already running or done is reused,
/// never sent twice (the stores check the object's state before asking); returns how many
/// were reused.
fn request_restores(
    settings: &Settings,
    catalog: &mut Catalog,
    job_ids: &[i64],
    bundles: &[Bundle],
    days: u32,
) -> Result<u64> {
    let mut restores_reused = 0;
    // One client per store for the whole selection (a vault's job list is then read once).
    let mut stores: std::collections::HashMap<String, std::sync::Arc<dyn esker_store::Store>> = Default::default();
    for (job_id, bundle) in job_ids.iter().zip(bundles) {
        let earlier = catalog.active_job_for_bundle(bundle.id)?.is_some_and(|job| job.id != *job_id);
        let store = crate::stores::open_cached(&mut stores, settings, &bundle.store)?;
        let job = catalog.job(*job_id)?.ok_or_else(|| Error::Input(format!("job {job_id} vanished")))?;
        let state = match crate::poll::start_restore(catalog, store.as_ref(), &job, days)? {
            Ok(started) => started.state,
            // The poll pass that follows fails the job and reports the bundle.
            Err(error) if matches!(error.kind, StoreErrorKind::NotFound | StoreErrorKind::Damaged) => continue,
            Err(error) => return Err(error.into()),
        };
        if earlier && matches!(state, RestoreState::Restoring | RestoreState::Restored { .. }) {
            restores_reused += 1;
        }
        let next = match state {
            RestoreState::Online | RestoreState::Restored { .. } => JobState::Ready,
            RestoreState::Restoring | RestoreState::Archived => JobState::Restoring,
        };
        let update =
            JobUpdate { state: Some(next), updated_at: Some(esker_model::time::now_seconds()), ..JobUpdate::default() };
        catalog.update_job(*job_id, &update)?;
    }
    Ok(restores_reused)
}
