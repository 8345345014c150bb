//! The archive pipeline: planner thread → catalog (this thread) → packer pool → catalog.
//!
//! The thread that owns the catalog records each bundle as `uploading` before handing it
//! to a packer, so no object ever reaches the store unknown to the catalog; it catalogs a
//! bundle's files only after the store has confirmed the object. A packer hands each written
//! bundle to a finisher thread, which waits for the store's confirmation (`fsync`, the end of
//! an upload) and stores the manifest copy while the packer writes the next bundle. Channels
//! are bounded, so memory does not grow with the number of files. An indexer thread adds
//! the rows to the full-text index as they are committed and commits the index at the end.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, bounded, never, select, unbounded};
use indicatif::ProgressBar;
use uuid::Uuid;

use super::ArchiveError;
use super::planner::{PlanEvent, ReuseReason, Reused, Skipped, plan};
use super::request::ArchiveRequest;
use super::stored::{BundleError, PackOptions, PackedBundle, WrittenBundle, write_bundle};
use super::summary::Summary;
use crate::acl::acl_entries;
use crate::crawl::Stat;
use crate::error::Result;
use esker_bundle::{BundleContext, DigestHex, PackScratch, PackState, PlannedBundle, entry_path, save_plan};
use esker_catalog::{BUNDLE_UPLOADING, Catalog, FileAttributes, NewBundle, NewFile, PendingFile, StoredBundle};
use esker_store::{ObjectChecksum, Store, bundle_key, manifest_key};

/// The run a pipeline writes into.
pub struct RunContext {
    pub run_id: i64,
    pub host: String,
    pub tags: Vec<String>,
    pub description: String,
    /// The directory that names owners and ACL principals (local NSS is always asked first).
    pub ldap: Option<crate::acl::LdapSettings>,
}

struct Job {
    row_id: i64,
    id: Uuid,
    bundle: PlannedBundle,
    options: PackOptions,
}

/// What a resumed run already has: the paths it recorded and the bundles whose uploads
/// are to be finished.
#[derive(Default)]
pub struct Resumption {
    pub done: HashSet<u128>,
    pub bundles: Vec<ResumedBundle>,
}

/// A bundle an interrupted run had started uploading to a store that resumes uploads: it
/// is packed again from its saved plan, under the same id, before anything new.
pub struct ResumedBundle {
    pub row_id: i64,
    pub id: Uuid,
    pub bundle: PlannedBundle,
    pub created_ns: i64,
    /// The store had confirmed the object before the run stopped: it is packed again only
    /// to catalog it (and checked against what the store holds), not uploaded.
    pub confirmed: Option<esker_store::StoredObject>,
}

struct Outcome {
    row_id: i64,
    id: Uuid,
    result: std::result::Result<PackedBundle, BundleError>,
}

const SKIP_BATCH: usize = 1000;

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

/// The channels the catalog thread works with.
struct Channels {
    plan_events: Receiver<PlanEvent>,
    jobs: Sender<Job>,
    outcomes: Receiver<Outcome>,
    /// Wakes the indexer after a commit.
    committed: Sender<()>,
}

fn drive(
    catalog: &mut Catalog,
    store: &dyn Store,
    context: &RunContext,
    resumed: Vec<ResumedBundle>,
    channels: Channels,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<()> {
    let Channels { mut plan_events, jobs: job_sender, outcomes, committed } = channels;
    let mut namer = crate::identities::Namer::new(context.ldap.clone());
    let mut in_flight = 0usize;
    let mut planning = true;
    let mut skipped: Vec<PendingFile> = Vec::new();
    let mut crawled = 0u64;
    let storage_class = store.storage_class();
    // Resumed bundles first. The packers hold `jobs` of them at a time, so results are
    // recorded in between to keep the channels moving.
    for ResumedBundle { row_id, id, bundle, created_ns, confirmed } in resumed {
        summary.files_planned += bundle.items.len() as u64;
        summary.bytes_planned += bundle.data_bytes;
        let mut job = Job { row_id, id, bundle, options: PackOptions { created_ns, resume: true, confirmed } };
        loop {
            match job_sender.try_send(job) {
                Ok(()) => break,
                Err(crossbeam_channel::TrySendError::Full(back)) => {
                    job = back;
                    let outcome = outcomes.recv().map_err(|_| ArchiveError::Pipeline("all packers stopped".into()))?;
                    in_flight -= 1;
                    record_outcome(catalog, store, context, outcome, summary, &mut namer)?;
                    let _ = committed.try_send(());
                }
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
                    return Err(ArchiveError::Pipeline("all packers stopped".into()).into());
                }
            }
        }
        in_flight += 1;
    }
    let mut job_sender = Some(job_sender);
    let save_plans = store.capabilities().resumes_uploads;
    while planning || in_flight > 0 {
        select! {
            recv(plan_events) -> event => match event {
                Ok(PlanEvent::Bundle(bundle)) => {
                    summary.files_planned += bundle.items.len() as u64;
                    summary.bytes_planned += bundle.data_bytes;
                    let id = Uuid::now_v7();
                    let key = store.key(&bundle_key(&id));
                    let uuid = id.to_string();
                    let created_ns = esker_model::time::now_ns();
                    let plan = save_plans.then(|| save_plan(&bundle, created_ns));
                    let row_id = catalog.insert_bundle(&NewBundle {
                        uuid: &uuid,
                        run_id: context.run_id,
                        store: store.name(),
                        object_key: &key,
                        storage_class: storage_class.as_deref(),
                        state: BUNDLE_UPLOADING,
                        file_count: bundle.items.len() as i64,
                        data_bytes: bundle.data_bytes as i64,
                        created_at: esker_model::time::now_seconds(),
                        plan: plan.as_deref(),
                    })?;
                    if let Some(sender) = &job_sender {
                        let options = PackOptions { created_ns, resume: false, confirmed: None };
                        sender.send(Job { row_id, id, bundle, options }).map_err(|_| ArchiveError::Pipeline("all packers stopped".into()))?;
                    }
                    in_flight += 1;
                }
                Ok(PlanEvent::Skipped(entries)) => {
                    for entry in entries {
                        skipped.push(skipped_row(context.run_id, entry, summary));
                    }
                }
                Ok(PlanEvent::Reused(entries)) => {
                    for entry in entries {
                        skipped.push(reused_row(context.run_id, entry, summary));
                    }
                }
                Ok(PlanEvent::Deleted(entries)) => {
                    for gone in entries {
                        summary.files_deleted += 1;
                        let previous = gone.previous;
                        skipped.push(PendingFile {
                            dir_path: gone.folder,
                            row: NewFile {
                                run_id: context.run_id,
                                dir_id: 0,
                                state: esker_catalog::FILE_DELETED.into(),
                                reason: None,
                                bundle_id: None,
                                header_offset: None,
                                data_offset: None,
                                origin_id: Some(previous.origin_id.unwrap_or(previous.id)),
                                seq: 0,
                                name: previous.name,
                                name_text: previous.name_text,
                                kind: previous.kind,
                                size: previous.size,
                                mode: previous.mode,
                                uid: previous.uid,
                                gid: previous.gid,
                                mtime_ns: previous.mtime_ns,
                                atime_ns: previous.atime_ns,
                                ctime_ns: previous.ctime_ns,
                                inode: previous.inode,
                                device: previous.device,
                                link_target: previous.link_target,
                                blake3: previous.blake3,
                            },
                            attributes: None,
                        });
                    }
                }
                Ok(PlanEvent::Counted { excluded, filtered_by_atime, already_recorded, crawled: seen }) => {
                    summary.excluded += excluded;
                    summary.filtered_by_atime += filtered_by_atime;
                    summary.already_recorded += already_recorded;
                    crawled += seen;
                }
                Err(_) => {
                    planning = false;
                    plan_events = never();
                    job_sender = None;
                }
            },
            recv(outcomes) -> outcome => {
                let Ok(outcome) = outcome else {
                    return Err(ArchiveError::Pipeline("all packers stopped".into()).into());
                };
                in_flight -= 1;
                record_outcome(catalog, store, context, outcome, summary, &mut namer)?;
                let _ = committed.try_send(());
            }
        }
        if skipped.len() >= SKIP_BATCH {
            namer.name_rows(catalog, &skipped)?;
            catalog.insert_rows(context.run_id, std::mem::take(&mut skipped))?;
            let _ = committed.try_send(());
        }
        progress.set_message(format!(
            "{} files crawled, {} archived ({}), {} bundles",
            crawled,
            summary.files_archived,
            esker_index::format_size(summary.bytes_archived),
            summary.bundles
        ));
    }
    namer.name_rows(catalog, &skipped)?;
    catalog.insert_rows(context.run_id, skipped)?;
    summary.identities = Some(namer.report());
    Ok(())
}

/// A row for an entry whose bytes are already stored (unchanged, or duplicate content).
fn reused_row(run_id: i64, reused: Reused, summary: &mut Summary) -> PendingFile {
    let size = reused.entry.stat.size;
    match reused.reason {
        ReuseReason::Unchanged => {
            summary.files_unchanged += 1;
            summary.bytes_unchanged += size;
        }
        ReuseReason::Duplicate => {
            summary.files_deduplicated += 1;
            summary.bytes_deduplicated += size;
        }
    }
    let origin = reused.origin;
    let mut row = new_file_row(run_id, &reused.entry.name, &reused.entry.stat, esker_catalog::FILE_ARCHIVED, None);
    row.link_target = reused.entry.link_target.clone();
    row.blake3 = reused.blake3;
    row.bundle_id = origin.bundle_id;
    row.header_offset = origin.header_offset;
    row.data_offset = origin.data_offset;
    row.origin_id = Some(origin.origin_id.unwrap_or(origin.id));
    let dir_path = reused.folder.as_os_str().as_encoded_bytes().to_vec();
    let attributes = attributes_of(&dir_path, reused.entry, summary);
    PendingFile { dir_path, row, attributes }
}

/// The xattrs of an entry with its ACLs parsed (None when it has none); ACLs that do not
/// parse are warnings: the raw values are kept either way.
fn attributes_of(dir_path: &[u8], entry: crate::crawl::Entry, summary: &mut Summary) -> Option<Box<FileAttributes>> {
    if entry.xattrs.is_empty() {
        return None;
    }
    let (acl, problems) = acl_entries(&entry.xattrs, entry.stat.uid, entry.stat.gid);
    summary.files_with_xattrs += 1;
    summary.acl_entries += acl.len() as u64;
    for problem in problems {
        let path = String::from_utf8_lossy(&esker_catalog::join_path(dir_path, &entry.name)).into_owned();
        summary.warnings.push(format!("{path}: {problem} (raw value kept)"));
    }
    Some(Box::new(FileAttributes { xattrs: entry.xattrs, acl }))
}

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
        Err(BundleError::Store(error)) if store.capabilities().resumes_uploads && error.is_interruption() => {
            // The store kept what it received (a vault's multipart upload): the bundle stays
            // `uploading` with its saved plan, and rerunning the command continues it.
            tracing::error!("bundle {id}: {error}");
            summary.bundles_failed += 1;
            summary.warnings.push(format!("bundle {id} interrupted: {error}; rerun the same command to continue it"));
            return Ok(());
        }
        Err(error) => {
            tracing::error!("bundle {id}: {error}");
            summary.bundles_failed += 1;
            summary.warnings.push(format!("bundle {id} failed: {error}"));
            let (key, manifest) = (store.key(&bundle_key(&id)), store.key(&manifest_key(&id)));
            let _ = store.discard_unfinished(&key);
            let _ = store.delete(&key);
            let _ = store.discard_unfinished(&manifest);
            let _ = store.delete(&manifest);
            catalog.mark_bundle_failed(row_id, &error.to_string())?;
            return Ok(());
        }
    };
    esker_model::failpoint::hit("bundle_stored");
    let bundle_blake3 = hex::encode(packed.blake3);
    let mut rows = Vec::with_capacity(packed.entries.len());
    for entry in packed.entries {
        let path = entry_path(&entry.item);
        let (bundle_id, header_offset, data_offset, reason) = match &entry.state {
            PackState::Stored => {
                summary.files_archived += 1;
                summary.bytes_archived += entry.stat.size;
                (Some(row_id), entry.offsets.map(|o| o.header as i64), entry.offsets.map(|o| o.data as i64), None)
            }
            PackState::Changed => {
                summary.files_changed += 1;
                summary.skip(
                    "changed while reading",
                    String::from_utf8_lossy(&path).into_owned(),
                    "changed while reading".into(),
                );
                (
                    Some(row_id),
                    entry.offsets.map(|o| o.header as i64),
                    entry.offsets.map(|o| o.data as i64),
                    Some("changed while reading".to_string()),
                )
            }
            PackState::Failed(reason) => {
                summary.skip(reason.category(), String::from_utf8_lossy(&path).into_owned(), reason.to_string());
                (None, None, None, Some(reason.to_string()))
            }
        };
        let mut row = new_file_row(context.run_id, &entry.item.entry.name, &entry.stat, entry.state.as_str(), reason);
        row.link_target = entry.item.entry.link_target.clone();
        row.blake3 = entry.blake3.as_ref().map(|digest| DigestHex::new(digest).as_str().to_string());
        row.bundle_id = bundle_id;
        row.header_offset = header_offset;
        row.data_offset = data_offset;
        let dir_path = entry.item.folder.as_os_str().as_encoded_bytes().to_vec();
        let attributes = attributes_of(&dir_path, entry.item.entry, summary);
        rows.push(PendingFile { dir_path, row, attributes });
    }
    namer.name_rows(catalog, &rows)?;
    catalog.record_stored_bundle(
        context.run_id,
        &StoredBundle {
            bundle_id: row_id,
            object_key: &packed.object.key,
            bytes: packed.object.size as i64,
            blake3: &bundle_blake3,
            tree_hash: (store.capabilities().checksum == ObjectChecksum::TreeHash)
                .then_some(packed.object.checksum.as_deref())
                .flatten(),
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

fn skipped_row(run_id: i64, entry: Skipped, summary: &mut Summary) -> PendingFile {
    let path = entry.path();
    summary.skip(entry.reason.category(), String::from_utf8_lossy(&path).into_owned(), entry.reason.to_string());
    let stat = entry.stat.clone().unwrap_or_else(Stat::zeroed);
    let mut row = new_file_row(run_id, &entry.name, &stat, "skipped", Some(entry.reason.to_string()));
    if entry.stat.is_none() {
        row.kind = "unknown".into();
    }
    PendingFile { dir_path: entry.folder.as_os_str().as_encoded_bytes().to_vec(), row, attributes: None }
}

fn new_file_row(run_id: i64, name: &[u8], stat: &Stat, state: &str, reason: Option<String>) -> NewFile {
    NewFile {
        run_id,
        dir_id: 0,
        name: name.to_vec(),
        name_text: String::from_utf8_lossy(name).into_owned(),
        kind: stat.kind.as_str().to_string(),
        size: stat.size as i64,
        mode: stat.mode as i32,
        uid: i64::from(stat.uid),
        gid: i64::from(stat.gid),
        mtime_ns: stat.mtime_ns,
        atime_ns: stat.atime_ns,
        ctime_ns: stat.ctime_ns,
        inode: stat.inode as i64,
        device: stat.device as i64,
        link_target: None,
        blake3: None,
        bundle_id: None,
        header_offset: None,
        data_offset: None,
        state: state.to_string(),
        reason,
        origin_id: None,
        seq: 0,
    }
}
