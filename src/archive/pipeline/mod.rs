//! The archive pipeline: planner thread → catalog (this thread) → packer pool → catalog.
//!
//! The thread that owns the catalog records each bundle as `uploading` before handing it
//! to a packer, so no object ever reaches the store unknown to the catalog; it catalogs a
//! bundle's files only after the store has confirmed the object. A packer hands each written
//! bundle to a finisher thread, which waits for the store's confirmation (`fsync`, the end of
//! an upload) and stores the manifest copy while the packer writes the next bundle. Channels
//! are bounded, so memory does not grow with the number of files. An indexer thread adds
//! the rows to the full-text index as they are committed and commits the index at the end.

mod catalog_thread;
mod jobs;
mod rows;

use std::path::Path;
use std::sync::Arc;

use crossbeam_channel::{Receiver, bounded, unbounded};
use indicatif::ProgressBar;

use super::ArchiveError;
use super::planner::{PlanEvent, plan};
use super::request::ArchiveRequest;
use super::stored::{BundleError, WrittenBundle, write_bundle};
use super::summary::Summary;
use crate::error::Result;
use catalog_thread::{Channels, drive};
use esker_bundle::{BundleContext, PackScratch};
use esker_catalog::Catalog;
use esker_store::{Store, bundle_key};
use jobs::{Job, Outcome};
pub use jobs::{ResumedBundle, Resumption, RunContext};

/// Runs the pipeline to the end, filling `summary`. With `index_dir`, the rows it catalogs
/// are also added to the full-text index there, as far as that works out (a later catch-up
/// adds whatever this could not).
#[allow(clippy::too_many_arguments)]
pub fn run(
    catalog: &mut Catalog,
    store: Arc<dyn Store>,
    request: &ArchiveRequest,
    context: &RunContext,
    resumption: Resumption,
    index_dir: Option<&Path>,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<()> {
    let Resumption { done, bundles: resumed } = resumption;
    let jobs = request.jobs.max(1);
    let (plan_sender, plan_receiver) = bounded::<PlanEvent>(4);
    let (job_sender, job_receiver) = bounded::<Job>(jobs);
    let (written_sender, written_receiver) = bounded::<(i64, WrittenBundle)>(jobs);
    let (outcome_sender, outcome_receiver) = unbounded::<Outcome>();
    // Holds at most one wake-up: commits made while the indexer is busy need no more.
    let (committed_sender, committed_receiver) = bounded::<()>(1);

    std::thread::scope(|scope| -> Result<()> {
        let indexer = index_dir.map(|dir| {
            let location = catalog.location().clone();
            spawn_named(scope, "indexer", move || indexer(&location, dir, committed_receiver))
        });
        let planner_request = request.clone();
        let location = catalog.location().clone();
        let planner = spawn_named(scope, "planner", move || {
            // A second, read-only connection: the planner compares with earlier versions.
            let mut history = esker_catalog::Catalog::open_for_reading(&location)?;
            plan(&planner_request, &done, history.as_mut(), |event| plan_sender.send(event).is_ok())
        });
        for _ in 0..jobs {
            let (jobs_in, written_out, outcomes_out) =
                (job_receiver.clone(), written_sender.clone(), outcome_sender.clone());
            let packer_store = store.clone();
            spawn_named(scope, "packer", move || {
                packer(packer_store.as_ref(), context, jobs_in, written_out, outcomes_out)
            });
            let (written_in, outcomes_out) = (written_receiver.clone(), outcome_sender.clone());
            let (finisher_store, finisher_location) = (store.clone(), catalog.location().clone());
            spawn_named(scope, "finisher", move || {
                finisher(finisher_store.as_ref(), &finisher_location, written_in, outcomes_out)
            });
        }
        drop(job_receiver);
        drop(written_sender);
        drop(written_receiver);
        drop(outcome_sender);

        let channels = Channels {
            plan_events: plan_receiver,
            jobs: job_sender,
            outcomes: outcome_receiver,
            committed: committed_sender,
        };
        let result = drive(catalog, store.as_ref(), context, resumed, channels, summary, progress);
        if let Some(indexer) = indexer {
            summary.indexed += indexer.join().unwrap_or(0);
        }
        let planned = planner.join().map_err(|_| ArchiveError::Pipeline("the planner thread panicked".into()))?;
        result?;
        planned?;
        Ok(())
    })
}

/// `scope.spawn` with a thread name, which profilers and `top -H` show. Like `scope.spawn`,
/// panics when the system cannot start a thread.
fn spawn_named<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    work: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    std::thread::Builder::new().name(name.to_string()).spawn_scoped(scope, work).expect("failed to spawn thread")
}

/// Writes bundles; hands each written one to a finisher (failures go straight to the catalog).
fn packer(
    store: &dyn Store,
    context: &RunContext,
    jobs: Receiver<Job>,
    written: crossbeam_channel::Sender<(i64, WrittenBundle)>,
    outcomes: crossbeam_channel::Sender<Outcome>,
) {
    let bundle_context = BundleContext {
        run_id: context.run_id,
        host: &context.host,
        tags: &context.tags,
        description: &context.description,
    };
    let mut scratch = PackScratch::default();
    for job in jobs {
        let Job { row_id, id, bundle, options } = job;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_bundle(store, id, bundle, &bundle_context, options, &mut scratch)
        }))
        .unwrap_or_else(|_| {
            Err(BundleError::Write { key: store.key(&bundle_key(&id)), message: "packer panicked".into() })
        });
        let sent = match result {
            Ok(bundle) => written.send((row_id, bundle)).map_err(|error| error.into_inner().1.abort()),
            Err(error) => outcomes.send(Outcome { row_id, id, result: Err(error) }).map_err(drop),
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Confirms written bundles with the store and stores their manifest copies.
/// For stores that resume uploads (vaults), each confirmed object is recorded at once on a
/// connection of its own, so a crash before its files are cataloged does not upload it again.
fn finisher(
    store: &dyn Store,
    location: &esker_catalog::CatalogLocation,
    written: Receiver<(i64, WrittenBundle)>,
    outcomes: crossbeam_channel::Sender<Outcome>,
) {
    let mut catalog = None;
    for (row_id, bundle) in written {
        let id = bundle.id();
        let mut record = |object: &esker_store::StoredObject| -> std::result::Result<(), BundleError> {
            if !store.capabilities().resumes_uploads {
                return Ok(());
            }
            let failed = |error: esker_catalog::CatalogError| BundleError::Write {
                key: object.key.clone(),
                message: format!("cannot record the confirmed object in the catalog: {error}"),
            };
            let catalog = match &mut catalog {
                Some(catalog) => catalog,
                None => catalog.insert(Catalog::open(location).map_err(failed)?),
            };
            catalog.record_confirmed(row_id, object).map_err(failed)
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bundle.finish(store, &mut record)))
            .unwrap_or_else(|_| {
                Err(BundleError::Write { key: store.key(&bundle_key(&id)), message: "finisher panicked".into() })
            });
        if outcomes.send(Outcome { row_id, id, result }).is_err() {
            return;
        }
    }
}

/// Adds catalog rows to the index as they are committed (one wake-up per commit, at most one
/// waiting), then commits the index. Returns how many rows it indexed; on any problem it
/// stops and leaves the rows to the catch-up after the run, which reports it.
fn indexer(location: &esker_catalog::CatalogLocation, index_dir: &Path, committed: Receiver<()>) -> u64 {
    let follow = || -> Result<u64> {
        let Some(mut catalog) = Catalog::open_for_reading(location)? else { return Ok(0) };
        let mut follower = crate::search::Follower::start(index_dir)?;
        for () in committed.iter() {
            follower.follow(&mut catalog)?;
        }
        follower.follow(&mut catalog)?;
        Ok(follower.commit()?.indexed)
    };
    follow().unwrap_or_else(|error| {
        tracing::debug!("indexing during the run stopped: {error}");
        0
    })
}
