//! Uploads to S3: one PUT for small objects, otherwise a multipart upload through the shared
//! [`MultipartWriter`] with a SHA-256 per part. S3 reports the composite checksum of the
//! parts on completion and on HEAD; both must equal the one computed here.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, StorageClass};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use tokio::runtime::Runtime;

use super::{Inner, sdk_error};
use crate::api::StoredObject;
use crate::error::{StoreError, StoreErrorKind};
use crate::multipart::{MultipartBackend, PartPlan};

/// S3's checksum of a multipart object: SHA-256 over the parts' raw SHA-256 digests,
/// base64, then `-` and the number of parts.
pub fn composite_sha256(part_digests: &[[u8; 32]]) -> String {
    let mut hasher = Sha256::new();
    for digest in part_digests {
        hasher.update(digest);
    }
    format!("{}-{}", BASE64.encode(hasher.finalize()), part_digests.len())
}

/// Compares a checksum the server reported with ours. S3 returns one whenever the upload
/// named a checksum algorithm; a server that returns none is accepted on size alone. The
/// digest is compared without the `-N` part count, which some servers leave out on HEAD.
fn check_reported(url: &str, reported: Option<&str>, expected: &str) -> Result<(), StoreError> {
    let digest = |text: &str| text.split('-').next().unwrap_or_default().to_string();
    match reported {
        Some(reported) if digest(reported) != digest(expected) => Err(StoreError::new(
            StoreErrorKind::Io,
            format!("{url}: checksum mismatch after upload (store says {reported}, esker computed {expected})"),
        )),
        _ => Ok(()),
    }
}

/// Aborts a multipart upload; one that is gone already is not an error.
pub(super) fn abort(inner: &Inner, key: &str, upload_id: &str) -> Result<(), StoreError> {
    let request =
        inner.client().abort_multipart_upload().bucket(&inner.settings.bucket).key(key).upload_id(upload_id).send();
    match inner.block_on(request) {
        Ok(_) => Ok(()),
        Err(error) => sdk_error(&inner.url(key), error).unless_not_found(()),
    }
}

/// One PUT with a SHA-256 checksum, then a HEAD to confirm the size.
pub(super) fn put_whole(
    inner: &Inner,
    key: &str,
    class: StorageClass,
    bytes: Vec<u8>,
) -> Result<StoredObject, StoreError> {
    let url = inner.url(key);
    let expected = BASE64.encode(Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    let request = inner
        .client()
        .put_object()
        .bucket(&inner.settings.bucket)
        .key(key)
        .storage_class(class)
        .checksum_sha256(&expected)
        .body(ByteStream::from(bytes))
        .send();
    let output = inner.block_on(request).map_err(|error| sdk_error(&url, error))?;
    check_reported(&url, output.checksum_sha256(), &expected)?;
    confirm(inner, key, size, &expected)
}

/// HEAD after completion: the object exists with the size (and checksum) esker sent.
fn confirm(inner: &Inner, key: &str, size: u64, checksum: &str) -> Result<StoredObject, StoreError> {
    let url = inner.url(key);
    let head = inner.head_object(key)?;
    let stored = head.content_length().unwrap_or(-1);
    if stored != size as i64 {
        return Err(StoreError::new(
            StoreErrorKind::Io,
            format!("{url}: store holds {stored} bytes after upload, esker sent {size}"),
        ));
    }
    check_reported(&url, head.checksum_sha256(), checksum)?;
    Ok(StoredObject {
        key: key.to_string(),
        size,
        checksum: head.checksum_sha256().map(str::to_string).or(Some(checksum.to_string())),
    })
}

/// The S3 side of one object's multipart upload.
pub(super) struct S3Upload {
    pub(super) inner: Arc<Inner>,
    pub(super) key: String,
    pub(super) class: StorageClass,
    /// S3 has no one-request threshold of its own: an object smaller than one part goes up
    /// with a single PUT.
    pub(super) part_size: u64,
}

impl MultipartBackend for S3Upload {
    /// The completed part and the SHA-256 of its bytes.
    type Part = (CompletedPart, [u8; 32]);

    fn url(&self) -> String {
        self.inner.url(&self.key)
    }

    fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    fn concurrency(&self) -> usize {
        self.inner.settings.client.upload_concurrency
    }

    fn threshold(&self) -> u64 {
        self.part_size
    }

    fn put_whole(&mut self, body: Vec<u8>) -> Result<StoredObject, StoreError> {
        put_whole(&self.inner, &self.key, self.class.clone(), body)
    }

    fn start(&mut self, _part_size: u64) -> Result<String, StoreError> {
        let inner = &self.inner;
        let request = inner
            .client()
            .create_multipart_upload()
            .bucket(&inner.settings.bucket)
            .key(&self.key)
            .storage_class(self.class.clone())
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send();
        let output = inner.block_on(request).map_err(|error| sdk_error(&self.url(), error))?;
        Ok(output.upload_id().unwrap_or_default().to_string())
    }

    fn part(&mut self, upload_id: &str, number: u64, _offset: u64, bytes: Vec<u8>) -> PartPlan<Self::Part> {
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        let (inner, key, upload_id) = (self.inner.clone(), self.key.clone(), upload_id.to_string());
        // S3 numbers parts from 1.
        let number = number as i32 + 1;
        PartPlan::Upload(Box::pin(async move {
            let checksum = BASE64.encode(digest);
            let body = bytes::Bytes::from(bytes);
            let output = inner
                .client()
                .upload_part()
                .bucket(&inner.settings.bucket)
                .key(&key)
                .upload_id(upload_id)
                .part_number(number)
                .checksum_sha256(&checksum)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .map_err(|error| sdk_error(&format!("{} part {number}", inner.url(&key)), error))?;
            check_reported(&inner.url(&key), output.checksum_sha256(), &checksum)?;
            let completed = CompletedPart::builder()
                .part_number(number)
                .set_e_tag(output.e_tag().map(str::to_string))
                .checksum_sha256(checksum)
                .build();
            // The request is done and its copies dropped: take the buffer back if it is ours alone.
            let buffer = body.try_into_mut().ok().map(Vec::from);
            Ok(((completed, digest), buffer))
        }))
    }

    fn complete(&mut self, upload_id: &str, parts: Vec<Self::Part>, size: u64) -> Result<StoredObject, StoreError> {
        let digests: Vec<[u8; 32]> = parts.iter().map(|(_, digest)| *digest).collect();
        let expected = composite_sha256(&digests);
        let parts: Vec<CompletedPart> = parts.into_iter().map(|(part, _)| part).collect();
        let inner = &self.inner;
        let url = self.url();
        let request = inner
            .client()
            .complete_multipart_upload()
            .bucket(&inner.settings.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send();
        let output = inner.block_on(request).map_err(|error| sdk_error(&url, error))?;
        check_reported(&url, output.checksum_sha256(), &expected)?;
        confirm(inner, &self.key, size, &expected)
    }

    fn abort(&mut self, upload_id: &str) -> Result<(), StoreError> {
        abort(&self.inner, &self.key, upload_id)
    }

    /// A new run packs an interrupted bundle afresh under a new key.
    fn keeps_interrupted(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_checksum_hashes_the_part_digests() {
        let parts: Vec<[u8; 32]> =
            [b"first part".as_slice(), b"second"].iter().map(|p| Sha256::digest(p).into()).collect();
        let mut concatenated = Vec::new();
        concatenated.extend_from_slice(&parts[0]);
        concatenated.extend_from_slice(&parts[1]);
        let expected = format!("{}-2", BASE64.encode(Sha256::digest(&concatenated)));
        assert_eq!(composite_sha256(&parts), expected);
    }

    #[test]
    fn a_reported_checksum_that_differs_fails_the_upload() {
        assert!(check_reported("s3://b/k", Some("abc-2"), "abc-2").is_ok());
        assert!(check_reported("s3://b/k", None, "abc-2").is_ok());
        assert!(check_reported("s3://b/k", Some("abc"), "abc-2").is_ok(), "HEAD may omit the part count");
        let error = check_reported("s3://b/k", Some("xyz-2"), "abc-2").expect_err("mismatch");
        assert!(error.message.contains("checksum mismatch"));
    }
}
