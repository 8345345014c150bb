//! The catalog thread of the archive pipeline. It records each planned bundle as
//! `uploading` before a packer gets it, catalogs a bundle's files once the store has
//! confirmed the object (or marks the bundle failed), and writes the rows of files that need
//! no packing (skipped, unchanged, duplicate, deleted) in batches.

use crossbeam_channel::{Receiver, Sender, never, select};
use indicatif::ProgressBar;
use uuid::Uuid;

use super::jobs::{Job, Outcome, ResumedBundle, RunContext};
use super::rows;
use crate::archive::ArchiveError;
use crate::archive::planner::PlanEvent;
use crate::archive::stored::{BundleError, PackOptions};
use crate::archive::summary::Summary;
use crate::error::Result;
use esker_bundle::{PlannedBundle, save_plan};
use esker_catalog::{BundleState, Catalog, NewBundle, PendingFile, StoredBundle};
use esker_store::{ObjectChecksum, Store, bundle_key, manifest_key};

/// Rows of files that need no packing are written this many at a time.
const SKIP_BATCH: usize = 1000;

/// The channels the catalog thread works with.
pub(super) struct Channels {
    pub(super) plan_events: Receiver<PlanEvent>,
    pub(super) jobs: Sender<Job>,
    pub(super) outcomes: Receiver<Outcome>,
    /// Wakes the indexer after a commit.
    pub(super) committed: Sender<()>,
}

/// Runs the catalog side of the pipeline until the planner is done and every bundle handed
/// to a packer has an outcome.
pub(super) fn drive(
    catalog: &mut Catalog,
    store: &dyn Store,
    context: &RunContext,
    resumed: Vec<ResumedBundle>,
    channels: Channels,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<()> {
    let Channels { mut plan_events, jobs, outcomes, committed } = channels;
    let mut driver = Driver {
        catalog,
        store,
        context,
        summary,
        namer: crate::identities::Namer::new(context.ldap.clone()),
        committed,
        in_flight: 0,
        unpacked: Vec::new(),
        crawled: 0,
    };
    for bundle in resumed {
        driver.send_resumed(&jobs, &outcomes, bundle)?;
    }
    let mut jobs = Some(jobs);
    let mut planning = true;
    while planning || driver.in_flight > 0 {
        select! {
            recv(plan_events) -> event => match event {
                Ok(event) => driver.planned(event, jobs.as_ref())?,
                Err(_) => {
                    planning = false;
                    plan_events = never();
                    jobs = None;
                }
            },
            recv(outcomes) -> outcome => driver.packed(outcome.map_err(|_| packers_stopped())?)?,
        }
        driver.write_unpacked(SKIP_BATCH)?;
        progress.set_message(driver.progress_message());
    }
    driver.write_unpacked(0)?;
    driver.summary.identities = Some(driver.namer.report());
    Ok(())
}

fn packers_stopped() -> crate::error::Error {
    ArchiveError::Pipeline("all packers stopped".into()).into()
}

/// The catalog thread's state.
struct Driver<'a> {
    catalog: &'a mut Catalog,
    store: &'a dyn Store,
    context: &'a RunContext,
    summary: &'a mut Summary,
    namer: crate::identities::Namer,
    /// Wakes the indexer after a commit.
    committed: Sender<()>,
    /// Bundles handed to packers and not yet recorded.
    in_flight: usize,
    /// Rows of files that need no packing, waiting for the next batch.
    unpacked: Vec<PendingFile>,
    crawled: u64,
}

impl Driver<'_> {
    /// Hands a resumed bundle to the packers. They hold `jobs` of them at a time, so
    /// outcomes are recorded in between to keep the channels moving.
    fn send_resumed(&mut self, jobs: &Sender<Job>, outcomes: &Receiver<Outcome>, resumed: ResumedBundle) -> Result<()> {
        let ResumedBundle { row_id, id, bundle, created_ns, confirmed } = resumed;
        self.count_planned(&bundle);
        let mut job = Job { row_id, id, bundle, options: PackOptions { created_ns, resume: true, confirmed } };
        loop {
            match jobs.try_send(job) {
                Ok(()) => break,
                Err(crossbeam_channel::TrySendError::Full(back)) => {
                    job = back;
                    self.packed(outcomes.recv().map_err(|_| packers_stopped())?)?;
                }
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => return Err(packers_stopped()),
            }
        }
        self.in_flight += 1;
        Ok(())
    }

    fn count_planned(&mut self, bundle: &PlannedBundle) {
        self.summary.files_planned += bundle.items.len() as u64;
        self.summary.bytes_planned += bundle.data_bytes;
    }

    /// Takes one event of the planner; `jobs` is where new bundles go.
    fn planned(&mut self, event: PlanEvent, jobs: Option<&Sender<Job>>) -> Result<()> {
        let run_id = self.context.run_id;
        match event {
            PlanEvent::Bundle(bundle) => self.start_bundle(bundle, jobs)?,
            PlanEvent::Skipped(entries) => {
                for entry in entries {
                    self.unpacked.push(rows::skipped_row(run_id, entry, self.summary));
                }
            }
            PlanEvent::Reused(entries) => {
                for entry in entries {
                    self.unpacked.push(rows::reused_row(run_id, entry, self.summary));
                }
            }
            PlanEvent::Deleted(entries) => {
                self.summary.files_deleted += entries.len() as u64;
                self.unpacked.extend(entries.into_iter().map(|gone| rows::deleted_row(run_id, gone)));
            }
            PlanEvent::Counted { excluded, filtered_by_atime, already_recorded, crawled } => {
                self.summary.excluded += excluded;
                self.summary.filtered_by_atime += filtered_by_atime;
                self.summary.already_recorded += already_recorded;
                self.crawled += crawled;
            }
        }
        Ok(())
    }

    /// Records a new bundle as `uploading` (with its plan, where the store resumes
    /// uploads), then hands it to a packer.
    fn start_bundle(&mut self, bundle: PlannedBundle, jobs: Option<&Sender<Job>>) -> Result<()> {
        self.count_planned(&bundle);
        let id = Uuid::now_v7();
        let key = self.store.key(&bundle_key(&id));
        let uuid = id.to_string();
        let created_ns = esker_model::time::now_ns();
        let plan = self.store.capabilities().resumes_uploads.then(|| save_plan(&bundle, created_ns));
        let storage_class = self.store.storage_class();
        let row_id = self.catalog.insert_bundle(&NewBundle {
            uuid: &uuid,
            run_id: self.context.run_id,
            store: self.store.name(),
            object_key: &key,
            storage_class: storage_class.as_deref(),
            state: BundleState::Uploading,
            file_count: bundle.items.len() as i64,
            data_bytes: bundle.data_bytes as i64,
            created_at: esker_model::time::now_seconds(),
            plan: plan.as_deref(),
        })?;
        if let Some(jobs) = jobs {
            let options = PackOptions { created_ns, resume: false, confirmed: None };
            jobs.send(Job { row_id, id, bundle, options }).map_err(|_| packers_stopped())?;
        }
        self.in_flight += 1;
        Ok(())
    }

    /// Records what packing a bundle came to.
    fn packed(&mut self, outcome: Outcome) -> Result<()> {
        self.in_flight -= 1;
        record_outcome(self.catalog, self.store, self.context, outcome, self.summary, &mut self.namer)?;
        let _ = self.committed.try_send(());
        Ok(())
    }

    /// Writes the waiting rows of unpacked files once there are at least `batch` of them.
    fn write_unpacked(&mut self, batch: usize) -> Result<()> {
        if self.unpacked.len() < batch.max(1) {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.unpacked);
        self.namer.name_rows(self.catalog, &rows)?;
        self.catalog.insert_rows(self.context.run_id, rows)?;
        let _ = self.committed.try_send(());
        Ok(())
    }

    fn progress_message(&self) -> String {
        format!(
            "{} files crawled, {} archived ({}), {} bundles",
            self.crawled,
            self.summary.files_archived,
            esker_index::format_size(self.summary.bytes_archived),
            self.summary.bundles
        )
    }
}

/// A bundle the store confirmed gets its file rows and `stored` state in one transaction;
/// a failed one is marked failed and whatever reached the store is removed, except an
/// interrupted upload a resuming store keeps for the next run.
fn record_outcome(
    catalog: &mut Catalog,
    store: &dyn Store,
    context: &RunContext,
    outcome: Outcome,
    summary: &mut Summary,
    namer: &mut crate::identities::Namer,
) -> Result<()> {
    let Outcome { row_id, id, result } = outcome;
    let packed = match result {
        Ok(packed) => packed,
        Err(error) => return record_failure(catalog, store, row_id, id, error, summary),
    };
    esker_model::failpoint::hit("bundle_stored");
    let bundle_blake3 = hex::encode(packed.blake3);
    let rows = rows::packed_rows(context.run_id, row_id, packed.entries, summary);
    namer.name_rows(catalog, &rows)?;
    let tree_hash = store.capabilities().checksum == ObjectChecksum::TreeHash;
    catalog.record_stored_bundle(
        context.run_id,
        &StoredBundle {
            bundle_id: row_id,
            object_key: &packed.object.key,
            bytes: packed.object.size as i64,
            blake3: &bundle_blake3,
            tree_hash: tree_hash.then_some(packed.object.checksum.as_deref()).flatten(),
            manifest_key: &packed.manifest_key,
            stored_at: esker_model::time::now_seconds(),
        },
        rows,
    )?;
    esker_model::failpoint::hit("bundle_recorded");
    summary.bundles += 1;
    summary.bundle_bytes += packed.object.size;
    Ok(())
}

fn record_failure(
    catalog: &mut Catalog,
    store: &dyn Store,
    row_id: i64,
    id: Uuid,
    error: BundleError,
    summary: &mut Summary,
) -> Result<()> {
    tracing::error!("bundle {id}: {error}");
    summary.bundles_failed += 1;
    if let BundleError::Store(error) = &error
        && store.capabilities().resumes_uploads
        && error.is_interruption()
    {
        // The store kept what it received (a vault's multipart upload): the bundle stays
        // `uploading` with its saved plan, and rerunning the command continues it.
        summary.warnings.push(format!("bundle {id} interrupted: {error}; rerun the same command to continue it"));
        return Ok(());
    }
    summary.warnings.push(format!("bundle {id} failed: {error}"));
    let (key, manifest) = (store.key(&bundle_key(&id)), store.key(&manifest_key(&id)));
    let _ = store.discard_unfinished(&key);
    let _ = store.delete(&key);
    let _ = store.discard_unfinished(&manifest);
    let _ = store.delete(&manifest);
    catalog.mark_bundle_failed(row_id, &error.to_string())?;
    Ok(())
}
