//! The catalog rows of files: those packed into a bundle, those reused from earlier
//! versions or duplicates, those skipped and those deleted since the last run.

use crate::acl::acl_entries;
use crate::archive::planner::{Gone, ReuseReason, Reused, Skipped};
use crate::archive::summary::Summary;
use crate::crawl::Stat;
use esker_bundle::{DigestHex, PackState, PackedEntry, entry_path};
use esker_catalog::{FileAttributes, FileState, NewFile, PendingFile};

/// The rows of a packed bundle's entries: stored ones (and those that changed while read)
/// point into bundle `bundle_id`; failed ones are skipped with their reason.
pub(super) fn packed_rows(
    run_id: i64,
    bundle_id: i64,
    entries: Vec<PackedEntry>,
    summary: &mut Summary,
) -> Vec<PendingFile> {
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        let path = String::from_utf8_lossy(&entry_path(&entry.item)).into_owned();
        if !matches!(entry.state, PackState::Failed(_)) && entry.stat.mtime_clamped() {
            summary.time_clamped(path.clone());
        }
        let reason = match &entry.state {
            PackState::Stored => {
                summary.files_archived += 1;
                summary.bytes_archived += entry.stat.size;
                None
            }
            PackState::Changed => {
                summary.files_changed += 1;
                summary.skip("changed while reading", path, "changed while reading".into());
                Some("changed while reading".to_string())
            }
            PackState::Failed(reason) => {
                summary.skip(reason.category(), path, reason.to_string());
                Some(reason.to_string())
            }
        };
        let in_bundle = !matches!(entry.state, PackState::Failed(_));
        let mut row = new_file_row(run_id, &entry.item.entry.name, &entry.stat, file_state(&entry.state), reason);
        row.link_target = entry.item.entry.link_target.clone();
        row.blake3 = entry.blake3.as_ref().map(|digest| DigestHex::new(digest).as_str().to_string());
        if in_bundle {
            row.bundle_id = Some(bundle_id);
            row.header_offset = entry.offsets.map(|o| o.header as i64);
            row.data_offset = entry.offsets.map(|o| o.data as i64);
        }
        let dir_path = entry.item.folder.as_os_str().as_encoded_bytes().to_vec();
        let attributes = attributes_of(&dir_path, entry.item.entry, summary);
        rows.push(PendingFile { dir_path, row, attributes });
    }
    rows
}

/// What the catalog records for a packed entry.
fn file_state(state: &PackState) -> FileState {
    match state {
        PackState::Stored => FileState::Archived,
        PackState::Changed => FileState::Changed,
        PackState::Failed(_) => FileState::Skipped,
    }
}

/// The row recording that a file of the previous version is gone.
pub(super) fn deleted_row(run_id: i64, gone: Gone) -> PendingFile {
    let previous = gone.previous;
    PendingFile {
        dir_path: gone.folder,
        row: NewFile {
            run_id,
            dir_id: 0,
            state: FileState::Deleted,
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
    }
}

/// A row for an entry whose bytes are already stored (unchanged, or duplicate content).
pub(super) fn reused_row(run_id: i64, reused: Reused, summary: &mut Summary) -> PendingFile {
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
    let mut row = new_file_row(run_id, &reused.entry.name, &reused.entry.stat, FileState::Archived, None);
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

pub(super) fn skipped_row(run_id: i64, entry: Skipped, summary: &mut Summary) -> PendingFile {
    let path = entry.path();
    summary.skip(entry.reason.category(), String::from_utf8_lossy(&path).into_owned(), entry.reason.to_string());
    let stat = entry.stat.clone().unwrap_or_else(Stat::zeroed);
    let mut row = new_file_row(run_id, &entry.name, &stat, FileState::Skipped, Some(entry.reason.to_string()));
    if entry.stat.is_none() {
        row.kind = "unknown".into();
    }
    PendingFile { dir_path: entry.folder.as_os_str().as_encoded_bytes().to_vec(), row, attributes: None }
}

fn new_file_row(run_id: i64, name: &[u8], stat: &Stat, state: FileState, reason: Option<String>) -> NewFile {
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
        state,
        reason,
        origin_id: None,
        seq: 0,
    }
}
