//! S3 store: bundles stream into multipart uploads (parts in parallel, SHA-256 per part,
//! verified on completion), manifests go up as small objects in a hot class, restores use
//! RestoreObject and reads use ranged GETs. Network calls run on the store's own tokio
//! runtime; the rest of esker calls it synchronously.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::{ChecksumMode, GlacierJobParameters, RestoreRequest, StorageClass, Tier};
use tokio::runtime::Runtime;

use crate::S3Settings;
use crate::api::{
    Capabilities, ObjectChecksum, ObjectInfo, ObjectWriter, RestoreState, RestoreTier, Store, StoredObject,
    UnfinishedUpload, WriteOptions,
};
use crate::error::{StoreError, StoreErrorKind};
use crate::multipart::{MultipartWriter, part_size_for};

mod upload;

use upload::S3Upload;
pub use upload::composite_sha256;

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
                runtime: crate::aws::runtime("esker-s3")?,
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

    /// HeadObject with the object's checksum; a missing object is a `NotFound` error.
    fn head_object(&self, key: &str) -> Result<HeadObjectOutput, StoreError> {
        let request = self
            .client()
            .head_object()
            .bucket(&self.settings.bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send();
        self.block_on(request).map_err(|error| sdk_error(&self.url(key), error))
    }

    /// Runs a future on the store's runtime. The client is built first: building it blocks
    /// on the runtime too, which can't happen from inside a task.
    fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.client();
        self.runtime.block_on(future)
    }
}

async fn build_client(settings: &S3Settings) -> Client {
    let shared = crate::aws::load_config(&settings.client).await;
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
    crate::aws::store_error(what, error, |error, code, status| match (error, code, status) {
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

impl Store for S3Store {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn key(&self, relative: &str) -> String {
        format!("{}{relative}", self.inner.settings.prefix)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { checksum: ObjectChecksum::Sha256, resumes_uploads: false, names_objects: false }
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
        let part_size = part_size_for(options.size_hint, self.inner.settings.part_size);
        let upload = S3Upload {
            inner: self.inner.clone(),
            key: key.to_string(),
            class: StorageClass::from(self.inner.settings.storage_class.as_str()),
            part_size,
        };
        Ok(Box::new(MultipartWriter::new(upload, part_size)))
    }

    fn put_small(&self, key: &str, bytes: &[u8], _run: Option<i64>) -> Result<StoredObject, StoreError> {
        let class = StorageClass::from(self.inner.settings.manifest_storage_class.as_str());
        upload::put_whole(&self.inner, key, class, bytes.to_vec())
    }

    fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        match self.inner.head_object(key) {
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
            Err(error) => error.unless_not_found(None),
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
            upload::abort(&self.inner, &upload.key, &upload.upload_id)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
