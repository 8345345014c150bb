//! Streams a bundle into a vault. Below `multipart_threshold` the whole archive goes up in
//! one UploadArchive request; from it on, as a multipart upload with parts in parallel. Every
//! request carries the SHA-256 tree hash of its payload, and the tree hash the vault reports
//! for the finished archive must equal the one computed here. A resumed writer first lists
//! the parts an interrupted upload of the same key already holds and sends only the parts
//! that are missing or whose tree hash differs.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use aws_sdk_glacier::primitives::ByteStream;

use super::api::{ObjectWriter, StoredObject};
use super::error::{StoreError, StoreErrorKind};
use super::glacier::{ArchiveLabel, Inner, hash_hex, sdk_error};
use super::parts::PartQueue;
use super::tree_hash::{Hash, combine, to_hex};

const MIB: u64 = 1 << 20;
/// A multipart upload holds at most 10,000 parts; plan for 9,000 so a bundle that grows a
/// little while packed still fits.
const PLANNED_PARTS: u64 = 9_000;
const MAX_PARTS: u64 = 10_000;
const MAX_PART: u64 = 4 * 1024 * MIB;

/// The part size for an archive of about `size` bytes: the configured one, or the next
/// power of two MiB that keeps the upload within the part limit (at most 4 GiB).
pub fn part_size_for(size: u64, configured: u64) -> u64 {
    let needed = size.div_ceil(PLANNED_PARTS).max(MIB).next_power_of_two();
    configured.max(needed).min(MAX_PART)
}

/// One UploadArchive request: the tree hash goes with it and must come back.
pub(super) fn upload_archive(
    inner: &Inner,
    key: &str,
    description: &str,
    body: Vec<u8>,
) -> Result<StoredObject, StoreError> {
    let size = body.len() as u64;
    let (_, checksum) = hash_hex(&body);
    let what = format!("{} {key}", inner.url());
    let output = inner
        .block_on(
            inner
                .client()
                .upload_archive()
                .account_id(&inner.settings.account_id)
                .vault_name(&inner.settings.vault)
                .archive_description(description)
                .checksum(&checksum)
                .body(ByteStream::from(body))
                .send(),
        )
        .map_err(|error| sdk_error(&what, error))?;
    confirmed(&what, output.archive_id(), output.checksum(), &checksum, size)
}

/// Checks what the vault answered to a finished upload: an archive id and our tree hash.
fn confirmed(
    what: &str,
    archive_id: Option<&str>,
    reported: Option<&str>,
    checksum: &str,
    size: u64,
) -> Result<StoredObject, StoreError> {
    let archive_id = archive_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| StoreError::new(StoreErrorKind::Other, format!("{what}: the vault returned no archive id")))?;
    match reported {
        Some(reported) if reported.eq_ignore_ascii_case(checksum) => {}
        Some(reported) => {
            return Err(StoreError::new(
                StoreErrorKind::Io,
                format!(
                    "{what}: tree hash mismatch after upload (vault says {reported}, esker computed {checksum}); archive {archive_id} is not counted"
                ),
            ));
        }
        None => {
            return Err(StoreError::new(
                StoreErrorKind::Io,
                format!("{what}: the vault confirmed archive {archive_id} without a tree hash"),
            ));
        }
    }
    Ok(StoredObject { key: archive_id.to_string(), size, checksum: Some(checksum.to_string()) })
}

/// A part the interrupted upload already holds: its end and tree hash.
#[derive(Debug, Clone)]
struct ExistingPart {
    end: u64,
    tree_hash: String,
}

/// Streams one archive. Memory: the first `max(multipart_threshold, part_size)` bytes are
/// held until the writer knows whether the archive needs a multipart upload; after that one
/// part being filled, at most `upload_concurrency` in flight and a spare.
pub(super) struct GlacierWriter {
    inner: Arc<Inner>,
    key: String,
    description: String,
    part_size: u64,
    /// Bytes held before deciding between one request and a multipart upload.
    hold: u64,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    existing: HashMap<u64, ExistingPart>,
    /// Offset of the next part to send.
    next_offset: u64,
    /// Every part of the archive so far: offset and tree hash.
    parts: PartQueue<(u64, Hash)>,
    failed: Option<StoreError>,
    finished: bool,
    pub(super) parts_sent: u64,
    pub(super) parts_reused: u64,
}

impl GlacierWriter {
    pub(super) fn new(inner: Arc<Inner>, key: &str, description: String, part_size: u64) -> GlacierWriter {
        let threshold = inner.settings.multipart_threshold;
        let hold = threshold.max(part_size).div_ceil(part_size) * part_size;
        GlacierWriter {
            inner,
            key: key.to_string(),
            description,
            part_size,
            hold,
            buffer: Vec::new(),
            upload_id: None,
            existing: HashMap::new(),
            next_offset: 0,
            parts: PartQueue::new(part_size as usize),
            failed: None,
            finished: false,
            parts_sent: 0,
            parts_reused: 0,
        }
    }

    fn url(&self) -> String {
        format!("{} {}", self.inner.url(), self.key)
    }

    /// Continues an interrupted multipart upload of this key, if the vault still has one:
    /// adopts its part size and learns the parts it holds (ListMultipartUploads, ListParts).
    /// Extra uploads of the same key are aborted.
    pub(super) fn resume_existing(&mut self) -> Result<(), StoreError> {
        let mut uploads: Vec<(String, u64)> = self
            .inner
            .multipart_uploads()?
            .into_iter()
            .filter(|(_, description, _)| ArchiveLabel::parse(description).is_some_and(|label| label.key == self.key))
            .map(|(id, _, part_size)| (id, part_size))
            .collect();
        let mut best: Option<(String, u64, HashMap<u64, ExistingPart>)> = None;
        for (id, part_size) in uploads.drain(..) {
            let parts = self.list_parts(&id)?;
            if best.as_ref().is_none_or(|(_, _, held)| parts.len() > held.len()) {
                if let Some((previous, _, _)) = best.take() {
                    self.inner.abort_upload(&previous)?;
                }
                best = Some((id, part_size, parts));
            } else {
                self.inner.abort_upload(&id)?;
            }
        }
        if let Some((id, part_size, parts)) = best {
            tracing::info!("{}: resuming upload {id} ({} parts already in the vault)", self.url(), parts.len());
            self.part_size = part_size.max(MIB);
            self.parts = PartQueue::new(self.part_size as usize);
            self.hold = self.part_size;
            self.upload_id = Some(id);
            self.existing = parts;
        }
        Ok(())
    }

    fn list_parts(&self, upload_id: &str) -> Result<HashMap<u64, ExistingPart>, StoreError> {
        let inner = &self.inner;
        inner.block_on(async {
            let mut parts = HashMap::new();
            let mut marker: Option<String> = None;
            loop {
                let page = inner
                    .client()
                    .list_parts()
                    .account_id(&inner.settings.account_id)
                    .vault_name(&inner.settings.vault)
                    .upload_id(upload_id)
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|error| sdk_error(&format!("{} upload {upload_id}", inner.url()), error))?;
                for part in page.parts() {
                    let range = part.range_in_bytes().and_then(|text| text.split_once('-'));
                    let bounds =
                        range.and_then(|(start, end)| Some((start.parse::<u64>().ok()?, end.parse::<u64>().ok()?)));
                    if let (Some((start, end)), Some(hash)) = (bounds, part.sha256_tree_hash()) {
                        parts.insert(start, ExistingPart { end: end + 1, tree_hash: hash.to_ascii_lowercase() });
                    }
                }
                marker = page.marker().filter(|next| !next.is_empty()).map(str::to_string);
                if marker.is_none() {
                    break;
                }
            }
            Ok(parts)
        })
    }

    fn start_upload(&mut self) -> Result<String, StoreError> {
        if let Some(id) = &self.upload_id {
            return Ok(id.clone());
        }
        let inner = &self.inner;
        let output = inner
            .block_on(
                inner
                    .client()
                    .initiate_multipart_upload()
                    .account_id(&inner.settings.account_id)
                    .vault_name(&inner.settings.vault)
                    .archive_description(&self.description)
                    .part_size(self.part_size.to_string())
                    .send(),
            )
            .map_err(|error| sdk_error(&self.url(), error))?;
        let id = output.upload_id().unwrap_or_default().to_string();
        self.upload_id = Some(id.clone());
        Ok(id)
    }

    /// Sends one part (or keeps the vault's copy when its tree hash matches).
    fn send_part(&mut self, part: Vec<u8>) -> Result<(), StoreError> {
        let offset = self.next_offset;
        let end = offset + part.len() as u64;
        if offset / self.part_size >= MAX_PARTS {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                format!(
                    "{}: more than {MAX_PARTS} parts of {} bytes; the archive outgrew its planned size",
                    self.url(),
                    self.part_size
                ),
            ));
        }
        let upload_id = self.start_upload()?;
        self.next_offset = end;
        let (hash, checksum) = hash_hex(&part);
        if let Some(existing) = self.existing.get(&offset)
            && existing.end == end
            && existing.tree_hash == checksum
        {
            tracing::debug!("{}: part at {offset} already in the vault, tree hash {checksum}", self.url());
            self.parts.done.push((offset, hash));
            self.parts_reused += 1;
            self.parts.recycle(part);
            return Ok(());
        }
        self.parts.wait_for_room(&self.inner.runtime, self.inner.settings.upload_concurrency)?;
        self.parts_sent += 1;
        let inner = self.inner.clone();
        let url = self.url();
        self.parts.spawn(&self.inner.runtime, async move {
            let body = bytes::Bytes::from(part);
            let what = format!("{url} part {offset}-{}", end - 1);
            let output = inner
                .client()
                .upload_multipart_part()
                .account_id(&inner.settings.account_id)
                .vault_name(&inner.settings.vault)
                .upload_id(upload_id)
                .range(format!("bytes {offset}-{}/*", end - 1))
                .checksum(&checksum)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .map_err(|error| sdk_error(&what, error))?;
            if output.checksum().is_some_and(|reported| !reported.eq_ignore_ascii_case(&checksum)) {
                return Err(StoreError::new(
                    StoreErrorKind::Io,
                    format!(
                        "{what}: tree hash mismatch (vault says {:?}, esker computed {checksum})",
                        output.checksum()
                    ),
                ));
            }
            let buffer = body.try_into_mut().ok().map(Vec::from);
            Ok(((offset, hash), buffer))
        });
        Ok(())
    }

    /// Sends every whole part in the buffer.
    fn send_full_parts(&mut self) -> Result<(), StoreError> {
        let part_size = self.part_size as usize;
        while self.buffer.len() >= part_size {
            let part = if self.buffer.len() == part_size {
                let next = self.parts.next_buffer();
                std::mem::replace(&mut self.buffer, next)
            } else {
                let rest = self.buffer.split_off(part_size);
                std::mem::replace(&mut self.buffer, rest)
            };
            self.send_part(part)?;
        }
        Ok(())
    }

    fn complete(&mut self, expected_size: u64) -> Result<StoredObject, StoreError> {
        let written = self.next_offset + self.buffer.len() as u64;
        if written != expected_size {
            return Err(StoreError::new(
                StoreErrorKind::Io,
                format!("{}: size mismatch (wrote {written} bytes, expected {expected_size})", self.url()),
            ));
        }
        if self.upload_id.is_none() && written < self.inner.settings.multipart_threshold {
            let body = std::mem::take(&mut self.buffer);
            return upload_archive(&self.inner, &self.key, &self.description, body);
        }
        self.send_full_parts()?;
        if !self.buffer.is_empty() || self.next_offset == 0 {
            let last = std::mem::take(&mut self.buffer);
            self.send_part(last)?;
        }
        self.parts.drain(&self.inner.runtime)?;
        if let Some(extra) = self.existing.keys().find(|&&offset| offset >= written) {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                format!(
                    "{}: the interrupted upload holds a part at {extra}, past the {written} bytes packed now; rerun to upload the bundle afresh",
                    self.url()
                ),
            ));
        }
        self.parts.done.sort_by_key(|(offset, _)| *offset);
        let hashes: Vec<Hash> = self.parts.done.iter().map(|(_, hash)| *hash).collect();
        let checksum = to_hex(&combine(&hashes));
        let upload_id = self.upload_id.clone().unwrap_or_default();
        let inner = &self.inner;
        let url = self.url();
        let output = inner
            .block_on(
                inner
                    .client()
                    .complete_multipart_upload()
                    .account_id(&inner.settings.account_id)
                    .vault_name(&inner.settings.vault)
                    .upload_id(&upload_id)
                    .archive_size(written.to_string())
                    .checksum(&checksum)
                    .send(),
            )
            .map_err(|error| sdk_error(&url, error))?;
        tracing::debug!(
            "{url}: completed upload {upload_id}: {} parts sent, {} already in the vault",
            self.parts_sent,
            self.parts_reused
        );
        self.upload_id = None;
        confirmed(&url, output.archive_id(), output.checksum(), &checksum, written)
    }

    fn abort_upload(&mut self) {
        self.parts.abort();
        if let Some(id) = self.upload_id.take()
            && let Err(error) = self.inner.abort_upload(&id)
        {
            tracing::warn!("could not abort upload of {}: {error}", self.url());
        }
    }
}

impl Write for GlacierWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Some(error) = &self.failed {
            return Err(std::io::Error::other(StoreError::new(error.kind, error.message.clone())));
        }
        let limit = if self.upload_id.is_some() { self.part_size } else { self.hold } as usize;
        let taken = (limit - self.buffer.len().min(limit)).min(data.len());
        self.buffer.extend_from_slice(&data[..taken]);
        if self.buffer.len() >= limit
            && let Err(error) = self.send_full_parts()
        {
            let carried = StoreError::new(error.kind, error.message.clone());
            self.failed = Some(error);
            return Err(std::io::Error::other(carried));
        }
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl GlacierWriter {
    /// Ends this writer after `error`: an interruption keeps the multipart upload (and the
    /// parts the vault confirmed) for the next run; anything else aborts it.
    fn give_up(&mut self, error: &StoreError) {
        if self.upload_id.is_some() && error.is_interruption() {
            self.parts.abort();
            tracing::info!(
                "{}: upload kept for the next run ({} parts in the vault): {error}",
                self.url(),
                self.parts.done.len()
            );
            self.finished = true;
        } else {
            self.abort_upload();
        }
    }
}

impl ObjectWriter for GlacierWriter {
    fn finish(mut self: Box<Self>, expected_size: u64) -> Result<StoredObject, StoreError> {
        if let Some(error) = self.failed.take() {
            self.give_up(&error);
            return Err(error);
        }
        match self.complete(expected_size) {
            Ok(object) => {
                self.finished = true;
                Ok(object)
            }
            Err(error) => {
                self.give_up(&error);
                Err(error)
            }
        }
    }

    fn abort(mut self: Box<Self>) {
        match self.failed.take() {
            Some(error) => self.give_up(&error),
            None => self.abort_upload(),
        }
    }
}

/// Re-packs an archive the vault already holds (its completion was recorded, then the run
/// died): sends nothing, and checks that the bytes give the recorded tree hash.
pub(super) struct ConfirmedWriter {
    url: String,
    object: StoredObject,
    hasher: super::tree_hash::TreeHasher,
}

impl ConfirmedWriter {
    pub(super) fn new(url: String, object: StoredObject) -> ConfirmedWriter {
        ConfirmedWriter { url, object, hasher: super::tree_hash::TreeHasher::new() }
    }
}

impl Write for ConfirmedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ObjectWriter for ConfirmedWriter {
    fn finish(self: Box<Self>, expected_size: u64) -> Result<StoredObject, StoreError> {
        let ConfirmedWriter { url, object, hasher } = *self;
        let written = hasher.len();
        let hash = to_hex(&hasher.finish());
        if written != expected_size || written != object.size || Some(hash.as_str()) != object.checksum.as_deref() {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                format!(
                    "{url}: archive {} was uploaded before the run stopped, but its files changed since \
                     ({written} bytes with tree hash {hash} now, {} bytes with {} then); archive them again",
                    object.key,
                    object.size,
                    object.checksum.as_deref().unwrap_or("none")
                ),
            ));
        }
        Ok(object)
    }

    fn abort(self: Box<Self>) {}
}

impl Drop for GlacierWriter {
    fn drop(&mut self) {
        if !self.finished {
            self.abort_upload();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_powers_of_two_mib_that_fit_the_part_limit() {
        assert_eq!(part_size_for(500 * MIB, 16 * MIB), 16 * MIB);
        let size = 200_000_000_000;
        let part = part_size_for(size, 16 * MIB);
        assert!(part.is_power_of_two() && part.is_multiple_of(MIB));
        assert!(size.div_ceil(part) <= PLANNED_PARTS, "{part}");
        assert_eq!(part_size_for(u64::MAX / 4, MIB), MAX_PART);
        assert_eq!(part_size_for(0, MIB), MIB);
    }

    #[test]
    fn a_confirmation_must_carry_our_tree_hash() {
        let hash = to_hex(&super::super::tree_hash::tree_hash(b"x"));
        assert!(confirmed("v", Some("id"), Some(&hash.to_uppercase()), &hash, 1).is_ok());
        assert!(confirmed("v", Some("id"), Some("00"), &hash, 1).is_err());
        assert!(confirmed("v", Some("id"), None, &hash, 1).is_err());
        assert!(confirmed("v", None, Some(&hash), &hash, 1).is_err());
    }
}
