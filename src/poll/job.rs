//! Working one job: check the restore, request it again if the copy expired, download the
//! needed ranges and write the files.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::acl::XattrFailure;
use crate::error::Result;
use crate::restore::extract::{
    ExtractError, FileWriter, Planned, check_target, settle_folder_time, write_metadata_only,
};
use crate::restore::ranges::{MAX_REQUEST, RangeGroup, data_span, plan_ranges};
use crate::restore::tree::{RestoreTree, Target};
use esker_catalog::{Catalog, FileRecord, FileState, Job, JobState, JobUpdate, Retrieval, RetrievalFileState};
use esker_model::Xattr;
use esker_store::{RestoreJob, RestoreState, RestoreTier, StartedRestore, Store, StoreErrorKind};

/// What happened to a job in one pass.
#[derive(Debug, Default, Clone)]
pub struct JobOutcome {
    /// Where the job stands after the pass; `None` when another poller finished it while
    /// this pass was under way (not this pass's to count).
    pub state: Option<JobState>,
    pub files_done: u64,
    pub files_failed: u64,
    /// Of the failed files, those whose bytes did not match the catalog.
    pub files_corrupt: u64,
    /// Bundles found missing or replaced by something else (the job fails).
    pub bundles_damaged: u64,
    /// Of the done files, those found already in place as archived (a rerun's).
    pub files_present: u64,
    /// Of the done files, those that changed while they were archived: restored as stored,
    /// which may match no version of the file.
    pub files_changed: u64,
    pub bytes_downloaded: u64,
    pub errors: Vec<String>,
    /// Restored files whose extended attributes were (partly) refused.
    pub warnings: Vec<String>,
}

pub fn tier_of(name: &str) -> RestoreTier {
    match name {
        "expedited" => RestoreTier::Expedited,
        "standard" => RestoreTier::Standard,
        _ => RestoreTier::Bulk,
    }
}

fn set_state(catalog: &mut Catalog, job: &Job, state: JobState, error: Option<String>) -> Result<()> {
    let now = esker_model::time::now_seconds();
    let mut update =
        JobUpdate { state: Some(state), updated_at: Some(now), error: Some(error), ..JobUpdate::default() };
    if state == JobState::Ready && job.ready_at.is_none() {
        update.ready_at = Some(Some(now));
    }
    if state == JobState::Done || state == JobState::Failed {
        update.done_at = Some(Some(now));
    }
    catalog.update_job(job.id, &update)?;
    Ok(())
}

/// The store-side job of a retrieval job (vaults), from its catalog row.
fn restore_job(job: &Job, object_size: u64) -> Option<RestoreJob> {
    let id = job.backend_job_id.clone()?;
    let range = job.range_start.unwrap_or(0).max(0) as u64..job.range_end.map_or(object_size, |end| end.max(0) as u64);
    Some(RestoreJob { id, range, object_size })
}

/// Asks the store to make the bytes a job's pending files need readable, and records the
/// store-side job (vaults) on the job row.
pub fn start_restore(
    catalog: &mut Catalog,
    store: &dyn Store,
    job: &Job,
    days: u32,
) -> Result<std::result::Result<StartedRestore, esker_store::StoreError>> {
    let size = catalog.bundle(job.bundle_id)?.and_then(|bundle| bundle.bytes).unwrap_or(0).max(0) as u64;
    let records = catalog.pending_job_files(job.id)?;
    let span = data_span(&records).unwrap_or(0..0);
    let started = match store.start_restore(&job.object_key, span, size, days, tier_of(&job.tier)) {
        Ok(started) => started,
        Err(error) => return Ok(Err(error)),
    };
    let (id, start, end) = match &started.job {
        Some(restore) => (Some(restore.id.clone()), Some(restore.range.start as i64), Some(restore.range.end as i64)),
        None => (None, None, None),
    };
    catalog.update_job(
        job.id,
        &JobUpdate {
            backend_job_id: Some(id),
            range_start: Some(start),
            range_end: Some(end),
            updated_at: Some(esker_model::time::now_seconds()),
            ..JobUpdate::default()
        },
    )?;
    Ok(Ok(started))
}

/// Brings a job as far as it can go now.
pub fn work(catalog: &mut Catalog, store: &dyn Store, job: &Job, retrieval: &Retrieval) -> Result<JobOutcome> {
    let mut outcome = JobOutcome::default();
    let Readiness::Readable(current) = readiness(catalog, store, job, retrieval, &mut outcome)? else {
        return Ok(outcome);
    };
    set_state(catalog, job, JobState::Ready, None)?;
    download(catalog, store, job, current.as_ref(), retrieval, &mut outcome)?;
    let (pending, _, failed) = catalog.job_file_counts(job.id)?;
    let state = if pending > 0 {
        JobState::Ready
    } else if failed > 0 {
        JobState::Failed
    } else {
        JobState::Done
    };
    outcome.state = Some(state);
    let error = (failed > 0).then(|| format!("{failed} files failed (see esker jobs --json and the poller's output)"));
    if pending == 0 {
        set_state(catalog, job, state, error)?;
    }
    Ok(outcome)
}

/// Whether a job's bytes can be read now.
enum Readiness {
    /// Yes, through this store-side job where the store has them.
    Readable(Option<RestoreJob>),
    /// Not now: the restore is running, failed, or the store could not be asked
    /// (`outcome` says which).
    NotYet,
}

/// Asks the store where the job's restore stands; a restore whose copy expired (or never
/// started) is requested again.
fn readiness(
    catalog: &mut Catalog,
    store: &dyn Store,
    job: &Job,
    retrieval: &Retrieval,
    outcome: &mut JobOutcome,
) -> Result<Readiness> {
    let size = catalog.bundle(job.bundle_id)?.and_then(|bundle| bundle.bytes).unwrap_or(0).max(0) as u64;
    let current = restore_job(job, size);
    match store.restore_state(&job.object_key, current.as_ref()) {
        Ok(Some(RestoreState::Archived)) => restart_restore(catalog, store, job, retrieval, outcome),
        Ok(Some(RestoreState::Restoring)) => {
            if job.state != JobState::Restoring {
                set_state(catalog, job, JobState::Restoring, None)?;
            }
            outcome.state = Some(JobState::Restoring);
            Ok(Readiness::NotYet)
        }
        Ok(Some(RestoreState::Restored { expires })) => {
            catalog.update_job(job.id, &JobUpdate { expires: Some(expires), ..JobUpdate::default() })?;
            Ok(Readiness::Readable(current))
        }
        Ok(Some(RestoreState::Online)) => Ok(Readiness::Readable(current)),
        Ok(None) => {
            bundle_missing(catalog, job, outcome)?;
            Ok(Readiness::NotYet)
        }
        Err(error) if error.kind == StoreErrorKind::Damaged => {
            bundle_damaged(catalog, job, error.to_string(), outcome)?;
            Ok(Readiness::NotYet)
        }
        Err(error) => {
            // Transient: leave the job as it is for the next pass.
            outcome.state = Some(job.state);
            outcome.errors.push(format!("job {}: {error}", job.id));
            Ok(Readiness::NotYet)
        }
    }
}

/// Requests the restore of a job whose copy is not (or no longer) readable.
fn restart_restore(
    catalog: &mut Catalog,
    store: &dyn Store,
    job: &Job,
    retrieval: &Retrieval,
    outcome: &mut JobOutcome,
) -> Result<Readiness> {
    let note = if job.state == JobState::Requested {
        "restore not started yet"
    } else {
        "the restored copy expired before download"
    };
    tracing::warn!("job {}: {note}; requesting the restore again", job.id);
    set_state(catalog, job, JobState::Expired, Some(note.to_string()))?;
    let started = match start_restore(catalog, store, job, retrieval.days.max(1) as u32)? {
        Ok(started) => started,
        Err(error) if error.kind == StoreErrorKind::NotFound => {
            bundle_missing(catalog, job, outcome)?;
            return Ok(Readiness::NotYet);
        }
        Err(error) => return Err(error.into()),
    };
    if matches!(started.state, RestoreState::Restoring | RestoreState::Archived) {
        set_state(catalog, job, JobState::Restoring, None)?;
        outcome.state = Some(JobState::Restoring);
        return Ok(Readiness::NotYet);
    }
    set_state(catalog, job, JobState::Ready, None)?;
    Ok(Readiness::Readable(started.job))
}

/// Fails a job whose bundle object the store no longer has.
fn bundle_missing(catalog: &mut Catalog, job: &Job, outcome: &mut JobOutcome) -> Result<()> {
    let message = format!("bundle object {} is missing from store `{}`", job.object_key, job.store);
    bundle_damaged(catalog, job, message, outcome)
}

/// Fails a job whose bundle object is gone or not an object any more: an integrity
/// problem, not one that passes.
fn bundle_damaged(catalog: &mut Catalog, job: &Job, message: String, outcome: &mut JobOutcome) -> Result<()> {
    set_state(catalog, job, JobState::Failed, Some(message.clone()))?;
    outcome.state = Some(JobState::Failed);
    outcome.bundles_damaged += 1;
    outcome.errors.push(message);
    Ok(())
}

fn failed(
    catalog: &mut Catalog,
    job: &Job,
    record: &FileRecord,
    error: ExtractError,
    outcome: &mut JobOutcome,
) -> Result<()> {
    let message = error.message;
    tracing::debug!("{message}");
    outcome.files_failed += 1;
    outcome.files_corrupt += u64::from(error.damaged);
    outcome.errors.push(message.clone());
    catalog.mark_retrieval_file(job.id, record.file.id, RetrievalFileState::Failed, Some(&message))?;
    Ok(())
}

/// Renews this poller's claim; an error when another poller has taken the job over.
fn keep_claim(catalog: &mut Catalog, job: &Job) -> Result<()> {
    let until = esker_model::time::now_seconds() + super::LEASE_SECONDS;
    if catalog.renew_claim(job.id, &super::claimer(), until)? {
        Ok(())
    } else {
        Err(crate::Error::Input(format!("job {}: the claim passed to another poller; stopping", job.id)))
    }
}

fn restored(
    catalog: &mut Catalog,
    job: &Job,
    record: &FileRecord,
    refused: Vec<XattrFailure>,
    outcome: &mut JobOutcome,
) -> Result<()> {
    catalog.mark_retrieval_file(job.id, record.file.id, RetrievalFileState::Done, None)?;
    if record.file.state == FileState::Changed {
        outcome.files_changed += 1;
        outcome.warnings.push(format!(
            "{}: it changed while it was archived; restored as stored, which may match no version of it",
            record.path_text()
        ));
    }
    for refusal in refused {
        outcome.warnings.push(format!(
            "{}: extended attribute {} not restored: {}",
            record.path_text(),
            refusal.name,
            refusal.error
        ));
    }
    outcome.files_done += 1;
    esker_model::failpoint::hit("file_restored");
    Ok(())
}

/// A store read that may find the restored copy gone.
enum Read {
    Bytes(Vec<u8>),
    Expired(String),
}

fn read(store: &dyn Store, job: &Job, restore: Option<&RestoreJob>, range: std::ops::Range<u64>) -> Result<Read> {
    match store.read_restored(&job.object_key, restore, range) {
        Ok(bytes) => Ok(Read::Bytes(bytes)),
        Err(error) if error.kind == StoreErrorKind::NotRestored => Ok(Read::Expired(error.to_string())),
        Err(error) => Err(error.into()),
    }
}

fn download(
    catalog: &mut Catalog,
    store: &dyn Store,
    job: &Job,
    restore: Option<&RestoreJob>,
    retrieval: &Retrieval,
    outcome: &mut JobOutcome,
) -> Result<()> {
    set_state(catalog, job, JobState::Downloading, None)?;
    let records = catalog.pending_job_files(job.id)?;
    let xattrs = if retrieval.restore_xattrs {
        catalog.xattrs_of(&records.iter().map(|record| record.file.id).collect::<Vec<_>>())?
    } else {
        HashMap::new()
    };
    let destination = std::ffi::OsStr::from_bytes(&retrieval.destination);
    let tree = match RestoreTree::open(Path::new(destination), job.id) {
        Ok(tree) => tree,
        Err(error) => {
            outcome.state = Some(JobState::Failed);
            outcome.errors.push(error.message.clone());
            return set_state(catalog, job, JobState::Failed, Some(error.message));
        }
    };
    let mut downloader =
        Downloader { catalog, store, job, restore, tree, overwrite: retrieval.overwrite, xattrs, outcome };
    let folders = downloader.write_dataless(&records)?;
    for group in plan_ranges(&records) {
        if let Fetched::Expired(why) = downloader.write_group(&records, &group)? {
            return set_state(downloader.catalog, job, JobState::Expired, Some(why));
        }
    }
    downloader.settle_folder_times(folders);
    Ok(())
}

/// Whether the bytes of a range came, or the restored copy was gone.
enum Fetched {
    Done,
    Expired(String),
}

/// Downloads a job's pending files and writes them below the destination.
struct Downloader<'a> {
    catalog: &'a mut Catalog,
    store: &'a dyn Store,
    job: &'a Job,
    restore: Option<&'a RestoreJob>,
    tree: RestoreTree,
    overwrite: bool,
    /// The recorded extended attributes to set, by file id (empty without `--xattrs`).
    xattrs: HashMap<i64, Vec<Xattr>>,
    outcome: &'a mut JobOutcome,
}

impl Downloader<'_> {
    fn xattrs_of(&self, record: &FileRecord) -> &[Xattr] {
        self.xattrs.get(&record.file.id).map(Vec::as_slice).unwrap_or_default()
    }

    /// Records how writing one file ended.
    fn settle(
        &mut self,
        record: &FileRecord,
        written: std::result::Result<Vec<XattrFailure>, ExtractError>,
    ) -> Result<()> {
        match written {
            Ok(refused) => restored(self.catalog, self.job, record, refused, self.outcome),
            Err(error) => failed(self.catalog, self.job, record, error, self.outcome),
        }
    }

    /// Entries without data first: symlinks, folders and empty files need no bytes.
    /// Returns the folders written, whose mtimes are set again at the end.
    fn write_dataless<'r>(&mut self, records: &'r [FileRecord]) -> Result<Vec<&'r FileRecord>> {
        let mut folders = Vec::new();
        for record in records.iter().filter(|record| record.file.kind != "file" || record.file.size == 0) {
            let written = match check_target(&self.tree, record, self.overwrite) {
                Ok(Planned::Present(_)) => {
                    self.outcome.files_present += 1;
                    Ok(Vec::new())
                }
                Ok(Planned::Write(target)) if record.file.kind == "file" => {
                    FileWriter::create(target).and_then(|writer| writer.finish(record, self.xattrs_of(record)))
                }
                Ok(Planned::Write(target)) => write_metadata_only(&target, record, self.xattrs_of(record)),
                Err(error) => Err(error),
            };
            if record.file.kind == "dir" && written.is_ok() {
                folders.push(record);
            }
            self.settle(record, written)?;
        }
        Ok(folders)
    }

    /// Writing into a folder changes its mtime: the recorded one is set once more when
    /// everything of the job is written.
    fn settle_folder_times(&mut self, folders: Vec<&FileRecord>) {
        for record in folders {
            if let Err(error) = settle_folder_time(&self.tree, record) {
                self.outcome.warnings.push(format!("{}: mtime not restored: {}", record.path_text(), error.message));
            }
        }
    }

    /// One group of neighbouring files: those that may not be written fail before any byte
    /// is fetched, and those already in place need none; small neighbours come in one
    /// request, a large file in chunks.
    fn write_group(&mut self, records: &[FileRecord], group: &RangeGroup) -> Result<Fetched> {
        let mut writable = Vec::new();
        for &index in &group.files {
            match check_target(&self.tree, &records[index], self.overwrite) {
                Ok(Planned::Write(target)) => writable.push((&records[index], target)),
                Ok(Planned::Present(_)) => {
                    self.outcome.files_present += 1;
                    self.settle(&records[index], Ok(Vec::new()))?;
                }
                Err(error) => failed(self.catalog, self.job, &records[index], error, self.outcome)?,
            }
        }
        if writable.is_empty() {
            return Ok(Fetched::Done);
        }
        keep_claim(self.catalog, self.job)?;
        if group.len() > MAX_REQUEST {
            let (record, target) = writable.remove(0);
            return self.write_chunked(record, target, group);
        }
        let bytes = match read(self.store, self.job, self.restore, group.start..group.end)? {
            Read::Bytes(bytes) => bytes,
            Read::Expired(why) => return Ok(Fetched::Expired(why)),
        };
        self.outcome.bytes_downloaded += bytes.len() as u64;
        for (record, target) in writable {
            let start = (record.file.data_offset.unwrap_or(0).max(0) as u64 - group.start) as usize;
            let end = start + record.file.size.max(0) as usize;
            let written = FileWriter::create(target).and_then(|mut writer| {
                // A short read (a truncated object) leaves the file short: `finish` names it.
                writer.write(bytes.get(start.min(bytes.len())..end.min(bytes.len())).unwrap_or_default())?;
                writer.finish(record, self.xattrs_of(record))
            });
            self.settle(record, written)?;
        }
        Ok(Fetched::Done)
    }

    /// A file larger than one request, fetched and written chunk by chunk.
    fn write_chunked(&mut self, record: &FileRecord, target: Target, group: &RangeGroup) -> Result<Fetched> {
        let mut writer = match FileWriter::create(target) {
            Ok(writer) => writer,
            Err(error) => {
                failed(self.catalog, self.job, record, error, self.outcome)?;
                return Ok(Fetched::Done);
            }
        };
        let mut offset = group.start;
        let mut broken = None;
        while offset < group.end && broken.is_none() {
            keep_claim(self.catalog, self.job)?;
            let end = (offset + MAX_REQUEST).min(group.end);
            match read(self.store, self.job, self.restore, offset..end)? {
                Read::Bytes(bytes) => {
                    self.outcome.bytes_downloaded += bytes.len() as u64;
                    broken = writer.write(&bytes).err();
                }
                Read::Expired(why) => return Ok(Fetched::Expired(why)),
            }
            offset = end;
        }
        let written = match broken {
            Some(error) => Err(error),
            None => writer.finish(record, self.xattrs_of(record)),
        };
        self.settle(record, written)?;
        Ok(Fetched::Done)
    }
}
