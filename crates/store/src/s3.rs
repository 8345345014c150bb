//! S3 store: bundles stream into multipart uploads (parts in parallel, SHA-256 per part,
//! verified on completion), manifests go up as small objects in a hot class, restores use
//! RestoreObject and reads use ranged GETs. Network calls run on the store's own tokio
//! runtime; the rest of esker calls it synchronously.

use std::io::Write;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, GlacierJobParameters, RestoreRequest,
    StorageClass, Tier,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use tokio::runtime::Runtime;

use super::api::{
    ObjectInfo, ObjectWriter, RestoreState, RestoreTier, Store, StoredObject, UnfinishedUpload, WriteOptions,
};
use super::error::{StoreError, StoreErrorKind};
use super::parts::PartQueue;
use crate::S3Settings;

/// Shared by the store and its writers.
struct Inner {
    name: String,
    settings: S3Settings,
    runtime: Runtime,
    client: OnceLock<Client>,
}

/// A bucket (and key prefix) on S3 or an S3-compatible server.
pub struct S3Store {
    inner: Arc<Inner>,
}

impl S3Store {
    pub fn new(name: &str, settings: &S3Settings) -> Result<S3Store, StoreError> {
        Ok(S3Store {
            inner: Arc::new(Inner {
                name: name.to_string(),
                settings: settings.clone(),
                runtime: super::aws::runtime("esker-s3")?,
                client: OnceLock::new(),
            }),
        })
    }
}

impl Inner {
    /// The client, built on first use from the standard AWS chain (env, profile, SSO, IMDS).
    fn client(&self) -> &Client {
        self.client.get_or_init(|| self.runtime.block_on(build_client(&self.settings)))
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.settings.bucket)
    }

    /// Runs a future on the store's runtime. The client is built first: building it blocks
    /// on the runtime too, which can't happen from inside a task.
    fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.client();
        self.runtime.block_on(future)
    }
}

async fn build_client(settings: &S3Settings) -> Client {
    let shared = super::aws::load_config(super::aws::Connection {
        region: settings.region.as_deref(),
        profile: settings.profile.as_deref(),
        endpoint_url: settings.endpoint_url.as_deref(),
        max_attempts: settings.max_attempts,
    })
    .await;
    let builder = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(settings.force_path_style)
        // esker computes and sends its own SHA-256 per request; no SDK trailers.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    Client::from_conf(builder.build())
}

/// Maps an SDK error onto a store error kind, naming the object.
fn sdk_error<E>(what: &str, error: SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    super::aws::store_error(what, error, |error, code, status| match (error, code, status) {
        (SdkError::TimeoutError(_), _, _) => StoreErrorKind::Timeout,
        (_, Some("InvalidObjectState"), _) => StoreErrorKind::NotRestored,
        (_, Some("NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" | "NotFound"), _) | (_, _, Some(404)) => {
            StoreErrorKind::NotFound
        }
        (_, Some("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken"), _)
        | (_, _, Some(401 | 403)) => StoreErrorKind::Unauthorized,
        (_, Some("SlowDown" | "Throttling" | "ThrottlingException" | "RequestTimeout"), _)
        | (_, _, Some(429 | 503)) => StoreErrorKind::Throttled,
        (SdkError::DispatchFailure(_), _, _) | (_, _, Some(500..=599)) => StoreErrorKind::Io,
        _ => StoreErrorKind::Other,
    })
}

fn restore_state(class: Option<&str>, restore: Option<&str>) -> RestoreState {
    let cold = matches!(class, Some("GLACIER" | "DEEP_ARCHIVE"));
    match restore {
        Some(header) if header.contains("ongoing-request=\"true\"") => RestoreState::Restoring,
        Some(header) if header.contains("ongoing-request=\"false\"") => {
            let expires =
                header.split("expiry-date=\"").nth(1).and_then(|rest| rest.split('"').next()).map(str::to_string);
            RestoreState::Restored { expires }
        }
        _ if cold => RestoreState::Archived,
        _ => RestoreState::Online,
    }
}

/// S3 takes at most 10,000 parts; esker plans for 9,000 so a file that grows a little
/// while read still fits.
const PLANNED_PARTS: u64 = 9_000;
const MAX_PARTS: i32 = 10_000;

/// The part size for an object of about `size` bytes: the configured one, or larger (in
/// whole MiB, at most 5 GiB) when the object would need too many parts.
pub fn part_size_for(size: u64, configured: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    let needed = size.div_ceil(PLANNED_PARTS).div_ceil(MIB) * MIB;
    configured.max(needed).min(5 * 1024 * MIB)
}

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

impl Store for S3Store {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn key(&self, relative: &str) -> String {
        format!("{}{relative}", self.inner.settings.prefix)
    }

    fn kind(&self) -> &'static str {
        "s3"
    }

    fn location(&self) -> String {
        self.inner.url(&self.inner.settings.prefix)
    }

    fn storage_class(&self) -> Option<String> {
        Some(self.inner.settings.storage_class.clone())
    }

    fn prepare(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        let bucket = &inner.settings.bucket;
        inner
            .block_on(inner.client().head_bucket().bucket(bucket).send())
            .map_err(|error| sdk_error(&format!("s3://{bucket}"), error))?;
        Ok(())
    }

    fn create(&self, key: &str, options: WriteOptions) -> Result<Box<dyn ObjectWriter>, StoreError> {
        let part_size = part_size_for(options.size_hint, self.inner.settings.part_size) as usize;
        Ok(Box::new(S3Writer {
            inner: self.inner.clone(),
            key: key.to_string(),
            class: StorageClass::from(self.inner.settings.storage_class.as_str()),
            buffer: Vec::with_capacity(part_size),
            part_size,
            upload_id: None,
            next_part: 1,
            parts: PartQueue::new(part_size),
            failed: None,
            finished: false,
        }))
    }

    fn put_small(&self, key: &str, bytes: &[u8], _run: Option<i64>) -> Result<StoredObject, StoreError> {
        let class = StorageClass::from(self.inner.settings.manifest_storage_class.as_str());
        put_whole(&self.inner, key, class, bytes.to_vec())
    }

    fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let inner = &self.inner;
        let request = inner
            .client()
            .head_object()
            .bucket(&inner.settings.bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send();
        match inner.block_on(request) {
            Ok(output) => {
                let class = output.storage_class().map(|class| class.as_str().to_string());
                Ok(Some(ObjectInfo {
                    checksum: output.checksum_sha256().map(str::to_string),
                    key: key.to_string(),
                    size: output.content_length().unwrap_or(0).max(0) as u64,
                    restore: restore_state(class.as_deref(), output.restore()),
                    storage_class: Some(class.unwrap_or_else(|| "STANDARD".into())),
                }))
            }
            Err(error) => sdk_error(&inner.url(key), error).unless_not_found(None),
        }
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let inner = &self.inner;
        let url = inner.url(key);
        inner.block_on(async {
            let output = inner
                .client()
                .get_object()
                .bucket(&inner.settings.bucket)
                .key(key)
                .range(format!("bytes={}-{}", range.start, range.end - 1))
                .send()
                .await
                .map_err(|error| sdk_error(&url, error))?;
            let body = output
                .body
                .collect()
                .await
                .map_err(|error| StoreError::new(StoreErrorKind::Io, format!("{url}: reading body: {error}")))?;
            Ok(body.into_bytes().to_vec())
        })
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let inner = &self.inner;
        let request = inner.client().delete_object().bucket(&inner.settings.bucket).key(key).send();
        match inner.block_on(request) {
            Ok(_) => Ok(()),
            Err(error) => sdk_error(&inner.url(key), error).unless_not_found(()),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let inner = &self.inner;
        inner.block_on(async {
            let mut found = Vec::new();
            let mut pages =
                inner.client().list_objects_v2().bucket(&inner.settings.bucket).prefix(prefix).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|error| sdk_error(&inner.url(prefix), error))?;
                for object in page.contents() {
                    let class = object.storage_class().map(|class| class.as_str().to_string());
                    found.push(ObjectInfo {
                        checksum: None,
                        key: object.key().unwrap_or_default().to_string(),
                        size: object.size().unwrap_or(0).max(0) as u64,
                        restore: restore_state(class.as_deref(), None),
                        storage_class: class,
                    });
                }
            }
            Ok(found)
        })
    }

    fn discard_unfinished(&self, key: &str) -> Result<(), StoreError> {
        for upload in self.unfinished_uploads(key)?.into_iter().filter(|upload| upload.key == key) {
            abort(&self.inner, &upload.key, &upload.upload_id)?;
        }
        Ok(())
    }

    fn unfinished_uploads(&self, prefix: &str) -> Result<Vec<UnfinishedUpload>, StoreError> {
        let inner = &self.inner;
        inner.block_on(async {
            let mut found = Vec::new();
            let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
            loop {
                let page = inner
                    .client()
                    .list_multipart_uploads()
                    .bucket(&inner.settings.bucket)
                    .prefix(prefix)
                    .set_key_marker(key_marker.clone())
                    .set_upload_id_marker(id_marker.clone())
                    .send()
                    .await
                    .map_err(|error| sdk_error(&inner.url(prefix), error))?;
                for upload in page.uploads() {
                    if let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) {
                        found.push(UnfinishedUpload { key: key.to_string(), upload_id: upload_id.to_string() });
                    }
                }
                if page.is_truncated() != Some(true) {
                    break;
                }
                key_marker = page.next_key_marker().map(str::to_string);
                id_marker = page.next_upload_id_marker().map(str::to_string);
                if key_marker.is_none() && id_marker.is_none() {
                    break;
                }
            }
            Ok(found)
        })
    }

    fn request_restore(&self, key: &str, days: u32, tier: RestoreTier) -> Result<RestoreState, StoreError> {
        // Only archived objects get a request: hot ones need none, and a restore already
        // running or done is never requested twice.
        match self.head(key)? {
            None => {
                return Err(StoreError::new(
                    StoreErrorKind::NotFound,
                    format!("{}: no such object", self.inner.url(key)),
                ));
            }
            Some(info) if info.restore != RestoreState::Archived => return Ok(info.restore),
            Some(_) => {}
        }
        let inner = &self.inner;
        let tier = match tier {
            RestoreTier::Expedited => Tier::Expedited,
            RestoreTier::Standard => Tier::Standard,
            RestoreTier::Bulk => Tier::Bulk,
        };
        let parameters = GlacierJobParameters::builder()
            .tier(tier)
            .build()
            .map_err(|error| StoreError::new(StoreErrorKind::Other, error.to_string()))?;
        let request = RestoreRequest::builder().days(days as i32).glacier_job_parameters(parameters).build();
        let sent = inner.block_on(
            inner.client().restore_object().bucket(&inner.settings.bucket).key(key).restore_request(request).send(),
        );
        if let Err(error) = sent {
            let error = sdk_error(&inner.url(key), error);
            // RestoreAlreadyInProgress is not a failure: the copy is on its way.
            if !error.message.contains("RestoreAlreadyInProgress") {
                return Err(error);
            }
        }
        Ok(self.head(key)?.map(|info| info.restore).unwrap_or(RestoreState::Restoring))
    }
}

fn abort(inner: &Inner, key: &str, upload_id: &str) -> Result<(), StoreError> {
    let request =
        inner.client().abort_multipart_upload().bucket(&inner.settings.bucket).key(key).upload_id(upload_id).send();
    match inner.block_on(request) {
        Ok(_) => Ok(()),
        Err(error) => sdk_error(&inner.url(key), error).unless_not_found(()),
    }
}

/// One PUT with a SHA-256 checksum, then a HEAD to confirm the size.
fn put_whole(inner: &Inner, key: &str, class: StorageClass, bytes: Vec<u8>) -> Result<StoredObject, StoreError> {
    let url = inner.url(key);
    let expected = BASE64.encode(Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    let output = inner
        .block_on(
            inner
                .client()
                .put_object()
                .bucket(&inner.settings.bucket)
                .key(key)
                .storage_class(class)
                .checksum_sha256(&expected)
                .body(ByteStream::from(bytes))
                .send(),
        )
        .map_err(|error| sdk_error(&url, error))?;
    check_reported(&url, output.checksum_sha256(), &expected)?;
    confirm(inner, key, size, &expected)
}

/// HEAD after completion: the object exists with the size (and checksum) esker sent.
fn confirm(inner: &Inner, key: &str, size: u64, checksum: &str) -> Result<StoredObject, StoreError> {
    let url = inner.url(key);
    let head = inner
        .block_on(
            inner
                .client()
                .head_object()
                .bucket(&inner.settings.bucket)
                .key(key)
                .checksum_mode(ChecksumMode::Enabled)
                .send(),
        )
        .map_err(|error| sdk_error(&url, error))?;
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

/// Streams a bundle into a multipart upload. Memory: one part being filled, at most
/// `upload_concurrency` parts in flight and one spare, so
/// `part_size × (upload_concurrency + 2)` per bundle being written (measured: 6 × 16 MiB
/// for a 512 MiB bundle with the defaults), whatever the size of the bundle. Part buffers
/// are reused, not reallocated.
struct S3Writer {
    inner: Arc<Inner>,
    key: String,
    class: StorageClass,
    buffer: Vec<u8>,
    part_size: usize,
    upload_id: Option<String>,
    next_part: i32,
    /// Each confirmed part with the SHA-256 of its bytes.
    parts: PartQueue<(CompletedPart, [u8; 32])>,
    failed: Option<StoreError>,
    finished: bool,
}

impl S3Writer {
    fn start_upload(&mut self) -> Result<String, StoreError> {
        if let Some(id) = &self.upload_id {
            return Ok(id.clone());
        }
        let inner = &self.inner;
        let output = inner
            .block_on(
                inner
                    .client()
                    .create_multipart_upload()
                    .bucket(&inner.settings.bucket)
                    .key(&self.key)
                    .storage_class(self.class.clone())
                    .checksum_algorithm(ChecksumAlgorithm::Sha256)
                    .send(),
            )
            .map_err(|error| sdk_error(&inner.url(&self.key), error))?;
        let id = output.upload_id().unwrap_or_default().to_string();
        self.upload_id = Some(id.clone());
        Ok(id)
    }

    fn send_part(&mut self, part: Vec<u8>) -> Result<(), StoreError> {
        if self.next_part > MAX_PARTS {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                format!(
                    "{}: more than {MAX_PARTS} parts of {} bytes; the object outgrew its planned size",
                    self.inner.url(&self.key),
                    self.part_size
                ),
            ));
        }
        let upload_id = self.start_upload()?;
        self.parts.wait_for_room(&self.inner.runtime, self.inner.settings.upload_concurrency)?;
        let digest: [u8; 32] = Sha256::digest(&part).into();
        let number = self.next_part;
        self.next_part += 1;
        let inner = self.inner.clone();
        let key = self.key.clone();
        self.parts.spawn(&self.inner.runtime, async move {
            let checksum = BASE64.encode(digest);
            let body = bytes::Bytes::from(part);
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
        });
        Ok(())
    }

    fn complete(&mut self, expected_size: u64) -> Result<StoredObject, StoreError> {
        if self.upload_id.is_none() {
            let body = std::mem::take(&mut self.buffer);
            if body.len() as u64 != expected_size {
                return Err(StoreError::new(
                    StoreErrorKind::Io,
                    format!("{}: size mismatch", self.inner.url(&self.key)),
                ));
            }
            return put_whole(&self.inner, &self.key, self.class.clone(), body);
        }
        if !self.buffer.is_empty() {
            let last = std::mem::take(&mut self.buffer);
            self.send_part(last)?;
        }
        self.parts.drain(&self.inner.runtime)?;
        let done = &mut self.parts.done;
        done.sort_by_key(|(part, _)| part.part_number());
        let digests: Vec<[u8; 32]> = done.iter().map(|(_, digest)| *digest).collect();
        let expected = composite_sha256(&digests);
        let parts: Vec<CompletedPart> = done.iter().map(|(part, _)| part.clone()).collect();
        let inner = &self.inner;
        let url = inner.url(&self.key);
        let output = inner
            .block_on(
                inner
                    .client()
                    .complete_multipart_upload()
                    .bucket(&inner.settings.bucket)
                    .key(&self.key)
                    .upload_id(self.upload_id.clone().unwrap_or_default())
                    .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                    .send(),
            )
            .map_err(|error| sdk_error(&url, error))?;
        check_reported(&url, output.checksum_sha256(), &expected)?;
        confirm(inner, &self.key, expected_size, &expected)
    }

    fn abort_upload(&mut self) {
        self.parts.abort();
        if let Some(id) = self.upload_id.take()
            && let Err(error) = abort(&self.inner, &self.key, &id)
        {
            tracing::warn!("could not abort upload of {}: {error}", self.inner.url(&self.key));
        }
    }
}

impl Write for S3Writer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Some(error) = &self.failed {
            return Err(std::io::Error::other(error.message.clone()));
        }
        let room = self.part_size - self.buffer.len();
        let taken = room.min(data.len());
        self.buffer.extend_from_slice(&data[..taken]);
        if self.buffer.len() == self.part_size {
            let next = self.parts.next_buffer();
            let part = std::mem::replace(&mut self.buffer, next);
            if let Err(error) = self.send_part(part) {
                let message = error.message.clone();
                self.failed = Some(error);
                return Err(std::io::Error::other(message));
            }
        }
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ObjectWriter for S3Writer {
    fn finish(mut self: Box<Self>, expected_size: u64) -> Result<StoredObject, StoreError> {
        if let Some(error) = self.failed.take() {
            self.abort_upload();
            return Err(error);
        }
        match self.complete(expected_size) {
            Ok(object) => {
                self.finished = true;
                Ok(object)
            }
            Err(error) => {
                self.abort_upload();
                Err(error)
            }
        }
    }

    fn abort(mut self: Box<Self>) {
        self.abort_upload();
    }
}

impl Drop for S3Writer {
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
    fn parts_grow_so_huge_objects_fit_the_part_limit() {
        let mib = 1u64 << 20;
        assert_eq!(part_size_for(500 * mib, 16 * mib), 16 * mib, "the configured size when it fits");
        // 200 GB at 16 MiB would need ~11,900 parts: grow to fit in 9,000.
        let size = 200_000_000_000;
        let part = part_size_for(size, 16 * mib);
        assert!(size.div_ceil(part) <= 9_000, "{part}");
        assert_eq!(part % mib, 0);
        assert_eq!(part_size_for(u64::MAX / 2, 16 * mib), 5 * 1024 * mib, "never above S3's maximum");
    }

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

    #[test]
    fn restore_header_is_understood() {
        assert_eq!(restore_state(Some("DEEP_ARCHIVE"), None), RestoreState::Archived);
        assert_eq!(restore_state(Some("STANDARD"), None), RestoreState::Online);
        assert_eq!(restore_state(Some("GLACIER"), Some("ongoing-request=\"true\"")), RestoreState::Restoring);
        assert_eq!(
            restore_state(
                Some("GLACIER"),
                Some("ongoing-request=\"false\", expiry-date=\"Fri, 21 Dec 2012 00:00:00 GMT\"")
            ),
            RestoreState::Restored { expires: Some("Fri, 21 Dec 2012 00:00:00 GMT".into()) }
        );
    }
}
