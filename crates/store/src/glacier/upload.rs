//! Streams a bundle into a vault. Below `multipart_threshold` the whole archive goes up in
//! one UploadArchive request; from it on, as a multipart upload through the shared
//! [`MultipartWriter`]. Every
//! request carries the SHA-256 tree hash of its payload, and the tree hash the vault reports
//! for the finished archive must equal the one computed here. A resumed writer first lists
//! the parts an interrupted upload of the same key already holds and sends only the parts
//! that are missing or whose tree hash differs.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use aws_sdk_glacier::primitives::ByteStream;
use tokio::runtime::Runtime;

use super::{ArchiveLabel, Inner, hash_hex, sdk_error};
use crate::api::{ObjectWriter, StoredObject};
use crate::error::{StoreError, StoreErrorKind};
use crate::multipart::{MultipartBackend, MultipartWriter, PartPlan};
use crate::tree_hash::{Hash, TreeHasher, combine, to_hex};

const MIB: u64 = 1 << 20;

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

/// A writer for a new archive under `key`. With `resume`, an interrupted multipart upload of
/// the same key that the vault still has is continued: its part size is adopted and only the
/// parts that are missing or whose tree hash differs are sent. Extra uploads of the key are
/// aborted.
pub(super) fn writer(
    inner: Arc<Inner>,
    key: &str,
    description: String,
    part_size: u64,
    resume: bool,
) -> Result<Box<dyn ObjectWriter>, StoreError> {
    let mut upload = VaultUpload { inner, key: key.to_string(), description, existing: HashMap::new() };
    let interrupted = if resume { upload.interrupted_upload()? } else { None };
    Ok(match interrupted {
        Some(InterruptedUpload { id, part_size, parts }) => {
            tracing::info!("{}: resuming upload {id} ({} parts already in the vault)", upload.url(), parts.len());
            upload.existing = parts;
            Box::new(MultipartWriter::resuming(upload, id, part_size.max(MIB)))
        }
        None => Box::new(MultipartWriter::new(upload, part_size)),
    })
}

/// A multipart upload a stopped run left in the vault.
struct InterruptedUpload {
    id: String,
    part_size: u64,
    /// The parts it holds, by offset.
    parts: HashMap<u64, ExistingPart>,
}

/// The vault side of one archive's upload.
struct VaultUpload {
    inner: Arc<Inner>,
    key: String,
    description: String,
    /// The parts an interrupted upload holds, by offset.
    existing: HashMap<u64, ExistingPart>,
}

impl VaultUpload {
    /// The interrupted upload of this key holding the most parts: its id, part size and
    /// parts (ListMultipartUploads, ListParts). The others are aborted.
    fn interrupted_upload(&self) -> Result<Option<InterruptedUpload>, StoreError> {
        let uploads =
            self.inner.multipart_uploads()?.into_iter().filter(|(_, description, _)| {
                ArchiveLabel::parse(description).is_some_and(|label| label.key == self.key)
            });
        let mut best: Option<InterruptedUpload> = None;
        for (id, _, part_size) in uploads {
            let parts = self.list_parts(&id)?;
            if best.as_ref().is_none_or(|held| parts.len() > held.parts.len()) {
                if let Some(previous) = best.take() {
                    self.inner.abort_upload(&previous.id)?;
                }
                best = Some(InterruptedUpload { id, part_size, parts });
            } else {
                self.inner.abort_upload(&id)?;
            }
        }
        Ok(best)
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
}

impl MultipartBackend for VaultUpload {
    /// The part's tree hash.
    type Part = Hash;

    fn url(&self) -> String {
        format!("{} {}", self.inner.url(), self.key)
    }

    fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    fn concurrency(&self) -> usize {
        self.inner.settings.client.upload_concurrency
    }

    fn threshold(&self) -> u64 {
        self.inner.settings.multipart_threshold
    }

    fn put_whole(&mut self, body: Vec<u8>) -> Result<StoredObject, StoreError> {
        upload_archive(&self.inner, &self.key, &self.description, body)
    }

    fn start(&mut self, part_size: u64) -> Result<String, StoreError> {
        let inner = &self.inner;
        let request = inner
            .client()
            .initiate_multipart_upload()
            .account_id(&inner.settings.account_id)
            .vault_name(&inner.settings.vault)
            .archive_description(&self.description)
            .part_size(part_size.to_string())
            .send();
        let output = inner.block_on(request).map_err(|error| sdk_error(&self.url(), error))?;
        Ok(output.upload_id().unwrap_or_default().to_string())
    }

    /// Keeps the vault's copy of a part whose range and tree hash match; sends the others.
    fn part(&mut self, upload_id: &str, _number: u64, offset: u64, bytes: Vec<u8>) -> PartPlan<Hash> {
        let end = offset + bytes.len() as u64;
        let (hash, checksum) = hash_hex(&bytes);
        if let Some(existing) = self.existing.get(&offset)
            && existing.end == end
            && existing.tree_hash == checksum
        {
            tracing::debug!("{}: part at {offset} already in the vault, tree hash {checksum}", self.url());
            return PartPlan::Held(hash, bytes);
        }
        let (inner, upload_id) = (self.inner.clone(), upload_id.to_string());
        let what = format!("{} part {offset}-{}", self.url(), end.saturating_sub(1));
        PartPlan::Upload(Box::pin(async move {
            let body = bytes::Bytes::from(bytes);
            let output = inner
                .client()
                .upload_multipart_part()
                .account_id(&inner.settings.account_id)
                .vault_name(&inner.settings.vault)
                .upload_id(upload_id)
                .range(format!("bytes {offset}-{}/*", end.saturating_sub(1)))
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
            Ok((hash, buffer))
        }))
    }

    fn complete(&mut self, upload_id: &str, parts: Vec<Hash>, size: u64) -> Result<StoredObject, StoreError> {
        if let Some(extra) = self.existing.keys().find(|&&offset| offset >= size) {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                format!(
                    "{}: the interrupted upload holds a part at {extra}, past the {size} bytes packed now; rerun to upload the bundle afresh",
                    self.url()
                ),
            ));
        }
        let checksum = to_hex(&combine(&parts));
        let inner = &self.inner;
        let url = self.url();
        let request = inner
            .client()
            .complete_multipart_upload()
            .account_id(&inner.settings.account_id)
            .vault_name(&inner.settings.vault)
            .upload_id(upload_id)
            .archive_size(size.to_string())
            .checksum(&checksum)
            .send();
        let output = inner.block_on(request).map_err(|error| sdk_error(&url, error))?;
        confirmed(&url, output.archive_id(), output.checksum(), &checksum, size)
    }

    fn abort(&mut self, upload_id: &str) -> Result<(), StoreError> {
        self.inner.abort_upload(upload_id)
    }

    /// The next run continues the upload, sending only what the vault lacks.
    fn keeps_interrupted(&self) -> bool {
        true
    }
}

/// Re-packs an archive the vault already holds (its completion was recorded, then the run
/// died): sends nothing, and checks that the bytes give the recorded tree hash.
pub(super) struct ConfirmedWriter {
    url: String,
    object: StoredObject,
    hasher: TreeHasher,
}

impl ConfirmedWriter {
    pub(super) fn new(url: String, object: StoredObject) -> ConfirmedWriter {
        ConfirmedWriter { url, object, hasher: TreeHasher::new() }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirmation_must_carry_our_tree_hash() {
        let hash = to_hex(&crate::tree_hash::tree_hash(b"x"));
        assert!(confirmed("v", Some("id"), Some(&hash.to_uppercase()), &hash, 1).is_ok());
        assert!(confirmed("v", Some("id"), Some("00"), &hash, 1).is_err());
        assert!(confirmed("v", Some("id"), None, &hash, 1).is_err());
        assert!(confirmed("v", None, Some(&hash), &hash, 1).is_err());
    }
}
