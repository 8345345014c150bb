//! Entry point of `esker archive`: validate, resume or start a run, drive the pipeline,
//! finish the run and bring the index up to date.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;
use std::time::Instant;

use indicatif::ProgressBar;

use super::ArchiveError;
use super::pipeline::{self, ResumedBundle, RunContext};
use super::planner::{PlanEvent, plan};
use super::request::ArchiveRequest;
use super::summary::Summary;
use crate::config::Settings;
use crate::cost::UploadEstimator;
use crate::error::{Error, Result};
use esker_bundle::{entry_path, load_plan};
use esker_catalog::{Catalog, NewRun, Run, RunState, path_hash};
use esker_store::{Store, manifest_key};

/// Archives `request.roots` (or, with `dry_run`, plans only and writes nothing).
pub fn archive(settings: &Settings, request: &ArchiveRequest, progress: &ProgressBar) -> Result<Summary> {
    let started = Instant::now();
    let store_settings = settings.store(&request.store)?;
    request.exclude_set()?;
    let mut summary = Summary { dry_run: request.dry_run, store: request.store.clone(), ..Summary::default() };
    if request.dry_run {
        estimate_dry_run(settings, store_settings, request, &mut summary, progress)?;
        summary.finish(started.elapsed());
        return Ok(summary);
    }

    settings.home.ensure()?;
    let store = esker_store::open(&request.store, store_settings)?;
    store.prepare()?;
    let mut catalog = Catalog::open(&settings.catalog)?;
    let locks = settings.home.data.join("locks");
    std::fs::create_dir_all(&locks).map_err(|error| Error::io(locks.display(), &error))?;

    let host = hostname();
    sweep_unfinished(&mut catalog, store.as_ref(), &locks, &host, &mut summary)?;
    let (run, _lock, done, resumed) = match resume(&mut catalog, store.as_ref(), request, &locks, &host)? {
        Some((run, lock, done, resumed)) => {
            summary.resumed = true;
            if run.tag_list() != request.tags || run.description != request.description {
                summary.warnings.push(format!(
                    "resuming run {} with the tags and description it started with; new ones apply to the next run",
                    run.id
                ));
            }
            (run, lock, done, resumed)
        }
        None => {
            let (run, lock) = start_run(&mut catalog, request, &locks, &host)?;
            (run, lock, HashSet::new(), Vec::new())
        }
    };
    summary.run = Some(run.id);
    let context = RunContext {
        run_id: run.id,
        host: run.host.clone(),
        tags: run.tag_list(),
        description: run.description.clone(),
        ldap: settings.ldap.clone(),
    };
    let resumption = pipeline::Resumption { done, bundles: resumed };
    let index_dir = Some(settings.home.index.as_path());
    pipeline::run(&mut catalog, store.clone(), request, &context, resumption, index_dir, &mut summary, progress)?;

    let state = if summary.bundles_failed > 0 { RunState::Incomplete } else { RunState::Complete };
    catalog.finish_run(run.id, state, esker_model::time::now_seconds())?;
    esker_model::failpoint::hit("run_finished");

    progress.set_message("indexing");
    let indexed = crate::search::catch_up_or_warn(&mut catalog, &settings.home.index, |count| {
        progress.set_message(format!("indexing: {count} files"));
    });
    let report = match indexed {
        // The run is complete and cataloged; only the derived index needs rebuilding.
        Err(error @ crate::Error::Index(esker_index::IndexError::Damaged { .. })) => {
            summary.index_damaged = Some(error.to_string());
            Default::default()
        }
        other => other?,
    };
    summary.indexed += report.indexed;
    summary.finish(started.elapsed());
    Ok(summary)
}

/// `--dry-run`: plans against the catalog, writing nothing; for S3 stores it also
/// estimates the upload's requests and cost.
fn estimate_dry_run(
    settings: &Settings,
    store_settings: &crate::config::StoreSettings,
    request: &ArchiveRequest,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<()> {
    let mut estimator = match store_settings {
        crate::config::StoreSettings::S3(s3) => {
            let pricing = crate::cost::Pricing::load(settings.pricing_file.as_deref())?;
            let minimum = pricing.class(&s3.storage_class)?.min_object_bytes;
            Some((UploadEstimator::new(s3.part_size, minimum), pricing, s3))
        }
        crate::config::StoreSettings::Local { .. } | crate::config::StoreSettings::Glacier(_) => None,
    };
    let estimating = estimator.as_mut().map(|(estimator, _, _)| estimator);
    dry_run(&settings.catalog, request, summary, progress, estimating)?;
    if let Some((estimator, pricing, s3)) = estimator {
        summary.upload_estimate = Some(estimator.finish(&pricing, &s3.storage_class, &s3.manifest_storage_class)?);
    }
    Ok(())
}

/// Records a new run and takes its lock.
fn start_run(catalog: &mut Catalog, request: &ArchiveRequest, locks: &Path, host: &str) -> Result<(Run, File)> {
    let tags = serde_json::to_string(&request.tags).unwrap_or_else(|_| "[]".into());
    let options = serde_json::to_string(request).unwrap_or_else(|_| "{}".into());
    let run_id = catalog.create_run(&NewRun {
        started_at: esker_model::time::now_seconds(),
        state: RunState::Running,
        host,
        roots: &request.roots_json(),
        roots_key: &request.roots_key(),
        store: &request.store,
        description: &request.description,
        tags: &tags,
        options: &options,
    })?;
    let lock = lock_run(locks, run_id)?.ok_or_else(|| ArchiveError::Pipeline(format!("run {run_id} is locked")))?;
    let run = catalog.run(run_id)?.ok_or_else(|| ArchiveError::Pipeline(format!("run {run_id} vanished")))?;
    Ok((run, lock))
}

fn dry_run(
    catalog_location: &esker_catalog::CatalogLocation,
    request: &ArchiveRequest,
    summary: &mut Summary,
    progress: &ProgressBar,
    mut estimator: Option<&mut UploadEstimator>,
) -> Result<()> {
    let mut history = Catalog::open_for_reading(catalog_location)?;
    plan(request, &HashSet::new(), history.as_mut(), |event| {
        match event {
            PlanEvent::Bundle(bundle) => {
                if let Some(estimator) = estimator.as_deref_mut() {
                    estimator.add_bundle(bundle.items.iter().map(|item| item.entry.stat.size));
                }
                summary.bundles += 1;
                summary.files_planned += bundle.items.len() as u64;
                summary.bytes_planned += bundle.data_bytes;
            }
            PlanEvent::Skipped(entries) => {
                for entry in entries {
                    let path = String::from_utf8_lossy(&entry.path()).into_owned();
                    summary.skip(entry.reason.category(), path, entry.reason.to_string());
                }
            }
            PlanEvent::Counted { excluded, filtered_by_atime, .. } => {
                summary.excluded += excluded;
                summary.filtered_by_atime += filtered_by_atime;
            }
            PlanEvent::Reused(entries) => {
                for entry in entries {
                    let size = entry.entry.stat.size;
                    if entry.reason == super::planner::ReuseReason::Unchanged {
                        summary.files_unchanged += 1;
                        summary.bytes_unchanged += size;
                    } else {
                        summary.files_deduplicated += 1;
                        summary.bytes_deduplicated += size;
                    }
                }
            }
            PlanEvent::Deleted(entries) => summary.files_deleted += entries.len() as u64,
        }
        progress.set_message(format!("{} files planned in {} bundles", summary.files_planned, summary.bundles));
        true
    })?;
    Ok(())
}

/// A resumed run: its row, its lock, the paths it already recorded and the bundles whose
/// interrupted uploads are to be finished.
type Resumed = (Run, File, HashSet<u128>, Vec<ResumedBundle>);

/// Finds an unfinished run over the same roots and store that no live process holds, cleans
/// up its unfinished bundles, and returns it with the paths it already recorded. On a store
/// that resumes uploads (a vault), bundles that were uploading keep their id and saved plan
/// and are packed again, so their interrupted uploads are finished, not redone.
fn resume(
    catalog: &mut Catalog,
    store: &dyn Store,
    request: &ArchiveRequest,
    locks: &Path,
    host: &str,
) -> Result<Option<Resumed>> {
    for run in catalog.resumable_runs(&request.roots_key(), &request.store, host)? {
        let Some(lock) = lock_run(locks, run.id)? else { continue };
        if run.state == RunState::Running || run.state == RunState::Incomplete {
            let mut resumed = Vec::new();
            let mut resumed_paths = Vec::new();
            for bundle in catalog.unfinished_bundles(run.id)? {
                let saved = (store.capabilities().resumes_uploads
                    && bundle.state == esker_catalog::BundleState::Uploading)
                    .then(|| bundle.plan.as_deref().and_then(load_plan))
                    .flatten();
                if let (Some((planned, created_ns)), Ok(id)) = (saved, uuid::Uuid::parse_str(&bundle.uuid)) {
                    tracing::info!("resuming the upload of bundle {id} ({} entries)", planned.items.len());
                    resumed_paths.extend(planned.items.iter().map(|item| path_hash(&entry_path(item))));
                    // Its archive was confirmed (and recorded) before the run stopped.
                    let confirmed = match (&bundle.tree_hash, bundle.bytes) {
                        (Some(tree_hash), Some(bytes)) => Some(esker_store::StoredObject {
                            key: bundle.object_key.clone(),
                            size: bytes as u64,
                            checksum: Some(tree_hash.clone()),
                        }),
                        _ => None,
                    };
                    resumed.push(ResumedBundle { row_id: bundle.id, id, bundle: planned, created_ns, confirmed });
                    continue;
                }
                store.discard_unfinished(&bundle.object_key)?;
                store.delete(&bundle.object_key)?;
                if let Ok(id) = uuid::Uuid::parse_str(&bundle.uuid) {
                    let manifest = store.key(&manifest_key(&id));
                    store.discard_unfinished(&manifest)?;
                    store.delete(&manifest)?;
                }
                catalog.delete_bundle(bundle.id)?;
            }
            let mut done = catalog.run_path_hashes(run.id)?;
            tracing::info!("resuming run {} ({} entries already recorded)", run.id, done.len());
            done.extend(resumed_paths);
            return Ok(Some((run, lock, done, resumed)));
        }
    }
    Ok(None)
}

/// Aborts unfinished uploads left behind by this host's runs that no live process holds
/// (their bundles are redone when the run is resumed). Uploads of other hosts' runs (a
/// shared catalog), and uploads this catalog never started, are left alone.
fn sweep_unfinished(
    catalog: &mut Catalog,
    store: &dyn Store,
    locks: &Path,
    host: &str,
    summary: &mut Summary,
) -> Result<()> {
    for upload in store.unfinished_uploads(&store.key("bundles/"))? {
        let uuid = upload.key.rsplit('/').next().and_then(|name| name.strip_suffix(".tar")).unwrap_or_default();
        let Some(bundle) = catalog.bundle_by_uuid(uuid)? else {
            summary
                .warnings
                .push(format!("unfinished upload of {} was not started by this catalog; left alone", upload.key));
            continue;
        };
        if bundle.state == esker_catalog::BundleState::Stored {
            continue;
        }
        if store.capabilities().resumes_uploads
            && bundle.state == esker_catalog::BundleState::Uploading
            && bundle.plan.is_some()
        {
            // Finished when its run is resumed (the same command run again).
            continue;
        }
        let ours = catalog.run(bundle.run_id)?.is_some_and(|run| run.host == host);
        if ours && lock_run(locks, bundle.run_id)?.is_some() {
            tracing::info!("aborting unfinished upload of {} (run {} was interrupted)", upload.key, bundle.run_id);
            store.discard_unfinished(&upload.key)?;
        }
    }
    Ok(())
}

/// Takes the lock of a run; `None` when another live process holds it.
fn lock_run(locks: &Path, run_id: i64) -> Result<Option<File>> {
    let path = locks.join(format!("run-{run_id}.lock"));
    let file = File::create(&path).map_err(|error| Error::io(path.display(), &error))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(error)) => Err(Error::io(path.display(), &error)),
    }
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
