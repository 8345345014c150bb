//! What an archive run did (or, with `--dry-run`, would do).

use std::collections::BTreeMap;

use serde::Serialize;

/// A skipped entry worth showing to the user.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedExample {
    pub path: String,
    pub reason: String,
}

const EXAMPLES: usize = 20;

/// Counters of a run, printed at the end (human or `--json`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub dry_run: bool,
    pub run: Option<i64>,
    pub resumed: bool,
    pub store: String,
    /// Files (and symlinks, empty folders) found and selected for archiving.
    pub files_planned: u64,
    pub bytes_planned: u64,
    pub files_archived: u64,
    pub bytes_archived: u64,
    /// Stored, but modified while read: not counted as archived.
    pub files_changed: u64,
    /// Same as their latest stored version: recorded in this run, not uploaded again.
    pub files_unchanged: u64,
    pub bytes_unchanged: u64,
    /// New or changed, but with content already stored: recorded, not uploaded again.
    pub files_deduplicated: u64,
    pub bytes_deduplicated: u64,
    /// Recorded before, gone from the disk now: marked deleted in this run.
    pub files_deleted: u64,
    pub bundles: u64,
    pub bundles_failed: u64,
    /// Bytes written to the store (tar overhead included).
    pub bundle_bytes: u64,
    /// A few of the files that changed while read.
    pub changed_examples: Vec<String>,
    /// Stored with a modification time before 1677 or after 2262, recorded as the nearest
    /// time the catalog holds; a few of them.
    pub files_time_clamped: u64,
    /// Why the search index could not take this run's files (the run itself is complete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_damaged: Option<String>,
    pub time_clamped_examples: Vec<String>,
    pub skipped: BTreeMap<String, u64>,
    pub skipped_examples: Vec<SkippedExample>,
    pub excluded: u64,
    pub filtered_by_atime: u64,
    /// Files skipped because the resumed run had recorded them already.
    pub already_recorded: u64,
    pub indexed: u64,
    /// Files recorded with extended attributes, and ACL entries found on them (`--xattrs`).
    pub files_with_xattrs: u64,
    pub acl_entries: u64,
    /// Owner, group and ACL principals named in this run and how their lookup went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identities: Option<crate::acl::ResolverReport>,
    pub elapsed_seconds: f64,
    pub files_per_second: f64,
    pub bytes_per_second: f64,
    /// With `--dry-run` against a priced store (S3): what the upload would cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_estimate: Option<crate::cost::UploadEstimate>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Summary {
    pub fn skip(&mut self, category: &str, path: String, reason: String) {
        *self.skipped.entry(category.to_string()).or_default() += 1;
        if self.skipped_examples.len() < EXAMPLES {
            self.skipped_examples.push(SkippedExample { path, reason });
        }
    }

    pub fn changed(&mut self, path: String) {
        self.files_changed += 1;
        if self.changed_examples.len() < EXAMPLES {
            self.changed_examples.push(path);
        }
    }

    pub fn time_clamped(&mut self, path: String) {
        self.files_time_clamped += 1;
        if self.time_clamped_examples.len() < EXAMPLES {
            self.time_clamped_examples.push(path);
        }
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub fn finish(&mut self, elapsed: std::time::Duration) {
        self.elapsed_seconds = elapsed.as_secs_f64();
        let seconds = self.elapsed_seconds.max(1e-6);
        let (files, bytes) = if self.dry_run {
            (self.files_planned, self.bytes_planned)
        } else {
            (self.files_archived, self.bytes_archived)
        };
        self.files_per_second = files as f64 / seconds;
        self.bytes_per_second = bytes as f64 / seconds;
    }
}
