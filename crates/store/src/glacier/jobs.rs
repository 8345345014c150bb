//! Archive-retrieval jobs of a vault: finding a running or finished job that already covers
//! a range (so a restore is never requested twice), and which part of a job's output to
//! download so the vault's tree hash can check it.

use std::ops::Range;
use std::sync::Arc;

use aws_sdk_glacier::types::{GlacierJobDescription, StatusCode};

use super::{GlacierStore, sdk_error};
use crate::api::{RestoreJob, RestoreState, RestoreTier};
use crate::error::StoreError;
use crate::tree_hash::{is_tree_hash_aligned, mib_aligned};

/// Job output stays readable this long after the job completes.
const OUTPUT_LIFETIME_SECONDS: i64 = 24 * 3600;

/// How long a listing of the vault's jobs is reused.
const JOB_LIST_TTL: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) fn tier_name(tier: RestoreTier) -> &'static str {
    match tier {
        RestoreTier::Expedited => "Expedited",
        RestoreTier::Standard => "Standard",
        RestoreTier::Bulk => "Bulk",
    }
}

/// `"START-END"` (inclusive) of a job, as a byte range; the whole archive when absent.
fn job_range(text: Option<&str>, size: u64) -> Range<u64> {
    text.and_then(|text| text.split_once('-'))
        .and_then(|(start, end)| Some(start.trim().parse::<u64>().ok()?..end.trim().parse::<u64>().ok()? + 1))
        .unwrap_or(0..size)
}

pub(super) fn expires(completion: Option<&str>) -> Option<String> {
    let text = completion?;
    let seconds = esker_model::time::parse_date(text.split('.').next().unwrap_or(text))?;
    Some(esker_model::time::format_rfc3339(seconds + OUTPUT_LIFETIME_SECONDS))
}

/// The part of a job's output to download for `wanted` (offsets in the output): widened to
/// MiB boundaries when that makes it tree-hash aligned (at most 1 MiB more on each side),
/// so the vault sends a tree hash to check it against; otherwise exactly `wanted`.
pub fn download_range(job: &Range<u64>, object_size: u64, wanted: &Range<u64>) -> Range<u64> {
    let length = job.end - job.start;
    if is_tree_hash_aligned(job, object_size) {
        let widened = mib_aligned(wanted, length);
        if is_tree_hash_aligned(&widened, length) {
            return widened;
        }
    }
    wanted.clone()
}

impl GlacierStore {
    /// An archive-retrieval job of `key`, running or done, that covers `range` (or the whole
    /// archive when `range` is `None`), so a restore is never requested twice.
    pub(super) fn find_job(
        &self,
        key: &str,
        range: Option<(&Range<u64>, u64)>,
    ) -> Result<Option<(RestoreJob, RestoreState)>, StoreError> {
        let jobs = self.vault_jobs()?;
        let mut best: Option<(RestoreJob, RestoreState)> = None;
        for job in jobs.iter() {
            if job.archive_id() != Some(key) || job.job_id().is_none() {
                continue;
            }
            let state = match job.status_code() {
                Some(StatusCode::Succeeded) => RestoreState::Restored { expires: expires(job.completion_date()) },
                Some(StatusCode::InProgress) => RestoreState::Restoring,
                _ => continue,
            };
            let size = job.archive_size_in_bytes().map(|size| size.max(0) as u64);
            let object_size = range.map(|(_, size)| size).or(size).unwrap_or(0);
            let covered = job_range(job.retrieval_byte_range(), object_size);
            let covers = match range {
                Some((wanted, _)) => covered.start <= wanted.start && covered.end >= wanted.end,
                None => job
                    .retrieval_byte_range()
                    .is_none_or(|text| size.is_some_and(|size| job_range(Some(text), size) == (0..size))),
            };
            if !covers {
                continue;
            }
            let ready = matches!(state, RestoreState::Restored { .. });
            if best.as_ref().is_none_or(|(_, current)| ready && !matches!(current, RestoreState::Restored { .. })) {
                let id = job.job_id().unwrap_or_default().to_string();
                best = Some((RestoreJob { id, range: covered, object_size }, state));
            }
        }
        Ok(best)
    }

    /// Every job of the vault (ListJobs, all pages), reused for [`JOB_LIST_TTL`].
    fn vault_jobs(&self) -> Result<Arc<Vec<GlacierJobDescription>>, StoreError> {
        let mut cached = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((listed, jobs)) = cached.as_ref()
            && listed.elapsed() < JOB_LIST_TTL
        {
            return Ok(jobs.clone());
        }
        let inner = &self.inner;
        let jobs = inner.block_on(async {
            let mut marker: Option<String> = None;
            let mut jobs = Vec::new();
            loop {
                let page = inner
                    .client()
                    .list_jobs()
                    .account_id(&inner.settings.account_id)
                    .vault_name(&inner.settings.vault)
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|error| sdk_error(&inner.url(), error))?;
                jobs.extend(page.job_list().iter().cloned());
                marker = page.marker().filter(|next| !next.is_empty()).map(str::to_string);
                if marker.is_none() {
                    break;
                }
            }
            Ok::<_, StoreError>(jobs)
        })?;
        let jobs = Arc::new(jobs);
        *cached = Some((std::time::Instant::now(), jobs.clone()));
        Ok(jobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree_hash;

    #[test]
    fn job_ranges_and_expiry_are_read() {
        assert_eq!(job_range(Some("1048576-3145727"), 10 << 20), 1_048_576..3_145_728);
        assert_eq!(job_range(None, 42), 0..42);
        assert_eq!(expires(Some("2012-05-15T17:21:39.339Z")).as_deref(), Some("2012-05-16T17:21:39Z"));
    }

    #[test]
    fn downloads_widen_to_checkable_ranges_only_when_the_job_is_aligned() {
        let mib = tree_hash::CHUNK;
        let size = 10 * mib + 5;
        // A job over 2-4 MiB (a tree node): a small read inside is widened to its MiB leaf.
        assert_eq!(download_range(&(2 * mib..4 * mib), size, &(100..200)), 0..mib);
        // A read across the middle of the job widens to the whole job output (a node).
        assert_eq!(download_range(&(2 * mib..4 * mib), size, &(mib - 10..mib + 10)), 0..2 * mib);
        // A job over 1-3 MiB is not a node: reads stay as asked.
        assert_eq!(download_range(&(mib..3 * mib), size, &(100..200)), 100..200);
    }
}
