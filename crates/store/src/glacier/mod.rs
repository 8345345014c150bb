//! Glacier vault store (the 2012 vault API): bundles go up with UploadArchive or as
//! multipart uploads with SHA-256 tree hashes (see `glacier_writer`), the vault names each
//! archive (its archive id becomes the bundle's key), reads go through archive-retrieval
//! jobs over MiB-aligned byte ranges, and an inventory-retrieval job lists the vault so it
//! can be reconciled with the catalog. Network calls run on the store's own tokio runtime.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use aws_sdk_glacier::Client;
use aws_sdk_glacier::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_glacier::operation::describe_job::DescribeJobOutput;
use aws_sdk_glacier::types::{GlacierJobDescription, JobParameters, StatusCode};
use tokio::runtime::Runtime;

use crate::GlacierSettings;
use crate::api::{
    Capabilities, ObjectChecksum, ObjectInfo, ObjectWriter, RestoreJob, RestoreState, RestoreTier, StartedRestore,
    Store, StoredObject, UnfinishedUpload, WriteOptions,
};
use crate::error::{StoreError, StoreErrorKind};
use crate::multipart::part_size_for;
use crate::tree_hash::{self, mib_aligned, to_hex, tree_hash};

mod inventory;
mod jobs;
mod upload;

pub use jobs::download_range;
use jobs::{expires, tier_name};

pub use inventory::{ArchiveLabel, InventoryJobState, VaultArchive, VaultInventory};

/// Shared by the store and its writers.
pub(super) struct Inner {
    pub(super) name: String,
    pub(super) settings: GlacierSettings,
    pub(super) runtime: Runtime,
    client: OnceLock<Client>,
}

/// A vault.
pub struct GlacierStore {
    inner: Arc<Inner>,
    /// The vault's job list, read once per pass over many bundles (ListJobs pages through
    /// every job of the vault; asking once per bundle would be throttled at scale).
    jobs: std::sync::Mutex<Option<(std::time::Instant, Arc<Vec<GlacierJobDescription>>)>>,
}

impl GlacierStore {
    pub fn new(name: &str, settings: &GlacierSettings) -> Result<GlacierStore, StoreError> {
        Ok(GlacierStore {
            inner: Arc::new(Inner {
                name: name.to_string(),
                settings: settings.clone(),
                runtime: crate::aws::runtime("esker-glacier")?,
                client: OnceLock::new(),
            }),
            jobs: std::sync::Mutex::new(None),
        })
    }

    pub fn vault(&self) -> &str {
        &self.inner.settings.vault
    }
}

impl Inner {
    /// The client, built on first use from the standard AWS chain (env, profile, SSO, IMDS).
    pub(super) fn client(&self) -> &Client {
        self.client.get_or_init(|| self.runtime.block_on(build_client(&self.settings)))
    }

    /// The vault, for messages.
    pub(super) fn url(&self) -> String {
        format!("glacier vault {}", self.settings.vault)
    }

    /// Runs a future on the store's runtime. The client is built first: building it blocks
    /// on the runtime too, which can't happen from inside a task.
    pub(super) fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.client();
        self.runtime.block_on(future)
    }

    /// DescribeJob; a job the vault does not know is a `NotFound` error.
    pub(super) fn describe_job(&self, job_id: &str) -> Result<DescribeJobOutput, StoreError> {
        let request = self
            .client()
            .describe_job()
            .account_id(&self.settings.account_id)
            .vault_name(&self.settings.vault)
            .job_id(job_id)
            .send();
        self.block_on(request).map_err(|error| sdk_error(&format!("{} job {job_id}", self.url()), error))
    }

    fn initiate_job(&self) -> aws_sdk_glacier::operation::initiate_job::builders::InitiateJobFluentBuilder {
        self.client().initiate_job().account_id(&self.settings.account_id).vault_name(&self.settings.vault)
    }

    /// Downloads job output (all of it, or a range of it), checking the tree hash the vault
    /// sends with it (it sends one only for tree-hash-aligned ranges). Returns the bytes and
    /// whether they were checked.
    fn job_output(&self, job_id: &str, range: Option<Range<u64>>, what: &str) -> Result<(Vec<u8>, bool), StoreError> {
        self.block_on(async {
            let mut request = self
                .client()
                .get_job_output()
                .account_id(&self.settings.account_id)
                .vault_name(&self.settings.vault)
                .job_id(job_id);
            if let Some(range) = &range {
                request = request.range(format!("bytes={}-{}", range.start, range.end - 1));
            }
            let output = request.send().await.map_err(|error| {
                let error = sdk_error(what, error);
                if error.kind == StoreErrorKind::NotFound {
                    StoreError::new(
                        StoreErrorKind::NotRestored,
                        format!("{what}: the job's output is gone (it stays readable 24 hours)"),
                    )
                } else {
                    error
                }
            })?;
            let reported = output.checksum().map(str::to_string);
            let body = output
                .body
                .collect()
                .await
                .map_err(|error| StoreError::new(StoreErrorKind::Io, format!("{what}: reading body: {error}")))?
                .into_bytes()
                .to_vec();
            if let Some(range) = &range
                && body.len() as u64 != range.end - range.start
            {
                return Err(StoreError::new(
                    StoreErrorKind::Io,
                    format!("{what}: asked for {} bytes, got {}", range.end - range.start, body.len()),
                ));
            }
            let checked = match reported {
                Some(reported) => {
                    let computed = to_hex(&tree_hash(&body));
                    if !reported.eq_ignore_ascii_case(&computed) {
                        return Err(StoreError::new(
                            StoreErrorKind::Io,
                            format!("{what}: tree hash mismatch (vault says {reported}, the bytes hash to {computed})"),
                        ));
                    }
                    true
                }
                None => false,
            };
            Ok((body, checked))
        })
    }

    /// Every unfinished multipart upload of the vault: (upload id, description, part size).
    pub(super) fn multipart_uploads(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.block_on(async {
            let mut found = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                let page = self
                    .client()
                    .list_multipart_uploads()
                    .account_id(&self.settings.account_id)
                    .vault_name(&self.settings.vault)
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|error| sdk_error(&self.url(), error))?;
                for upload in page.uploads_list() {
                    if let Some(id) = upload.multipart_upload_id() {
                        found.push((
                            id.to_string(),
                            upload.archive_description().unwrap_or_default().to_string(),
                            upload.part_size_in_bytes().max(0) as u64,
                        ));
                    }
                }
                marker = page.marker().filter(|next| !next.is_empty()).map(str::to_string);
                if marker.is_none() {
                    break;
                }
            }
            Ok(found)
        })
    }

    pub(super) fn abort_upload(&self, upload_id: &str) -> Result<(), StoreError> {
        let request = self
            .client()
            .abort_multipart_upload()
            .account_id(&self.settings.account_id)
            .vault_name(&self.settings.vault)
            .upload_id(upload_id)
            .send();
        match self.block_on(request) {
            Ok(_) => Ok(()),
            Err(error) => sdk_error(&format!("{} upload {upload_id}", self.url()), error).unless_not_found(()),
        }
    }
}

async fn build_client(settings: &GlacierSettings) -> Client {
    let shared = crate::aws::load_config(&settings.client).await;
    Client::new(&shared)
}

/// Maps an SDK error onto a store error kind, naming what it concerns.
pub(super) fn sdk_error<E>(what: &str, error: SdkError<E, aws_sdk_glacier::config::http::HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    crate::aws::store_error(what, error, |error, code, status| match (error, code, status) {
        (SdkError::TimeoutError(_), _, _) | (_, Some("RequestTimeoutException"), _) => StoreErrorKind::Timeout,
        (_, Some("ResourceNotFoundException"), _) | (_, _, Some(404)) => StoreErrorKind::NotFound,
        (_, Some("AccessDeniedException" | "UnrecognizedClientException" | "ExpiredTokenException"), _)
        | (_, _, Some(401 | 403)) => StoreErrorKind::Unauthorized,
        (
            _,
            Some(
                "ThrottlingException"
                | "LimitExceededException"
                | "ServiceUnavailableException"
                | "InsufficientCapacityException",
            ),
            _,
        )
        | (_, _, Some(429 | 503)) => StoreErrorKind::Throttled,
        (SdkError::DispatchFailure(_), _, _) | (_, _, Some(500..=599)) => StoreErrorKind::Io,
        _ => StoreErrorKind::Other,
    })
}

/// Whether a key is an archive id (as opposed to one of esker's names, `bundles/….tar`):
/// only archive ids address anything in a vault.
pub fn is_archive_id(key: &str) -> bool {
    !key.is_empty() && !key.contains('/')
}

impl Store for GlacierStore {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { checksum: ObjectChecksum::TreeHash, resumes_uploads: true, names_objects: true }
    }

    fn location(&self) -> String {
        let settings = &self.inner.settings;
        format!(
            "glacier://{}/{}{}",
            settings.account_id,
            settings.vault,
            settings.client.region.as_deref().map(|region| format!(" ({region})")).unwrap_or_default()
        )
    }

    fn storage_class(&self) -> Option<String> {
        Some(GLACIER_VAULT_CLASS.to_string())
    }

    fn prepare(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        inner
            .block_on(
                inner
                    .client()
                    .describe_vault()
                    .account_id(&inner.settings.account_id)
                    .vault_name(&inner.settings.vault)
                    .send(),
            )
            .map_err(|error| sdk_error(&inner.url(), error))?;
        Ok(())
    }

    fn create(&self, key: &str, options: WriteOptions) -> Result<Box<dyn ObjectWriter>, StoreError> {
        if let Some(confirmed) = options.confirmed {
            return Ok(Box::new(upload::ConfirmedWriter::new(self.inner.url(), confirmed)));
        }
        let label = ArchiveLabel::new(key, options.run);
        let part_size = part_size_for(options.size_hint, self.inner.settings.part_size);
        upload::writer(self.inner.clone(), key, label.description(), part_size, options.resume)
    }

    fn put_small(&self, key: &str, bytes: &[u8], run: Option<i64>) -> Result<StoredObject, StoreError> {
        let description = ArchiveLabel::new(key, run).description();
        upload::upload_archive(&self.inner, key, &description, bytes.to_vec())
    }

    fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        Err(StoreError::new(
            StoreErrorKind::Other,
            format!(
                "{}: archive {key}: a vault has no per-archive lookup; `esker inventory request {}` lists it",
                self.inner.url(),
                self.inner.name
            ),
        ))
    }

    fn get_range(&self, key: &str, _range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        Err(StoreError::new(
            StoreErrorKind::NotRestored,
            format!("{}: archive {key} is read through an archive-retrieval job", self.inner.url()),
        ))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        if !is_archive_id(key) {
            // A name: nothing in a vault is addressed by it (an unfinished upload is
            // discarded with `discard_unfinished`).
            return Ok(());
        }
        let inner = &self.inner;
        let request = inner
            .client()
            .delete_archive()
            .account_id(&inner.settings.account_id)
            .vault_name(&inner.settings.vault)
            .archive_id(key)
            .send();
        match inner.block_on(request) {
            Ok(_) => Ok(()),
            Err(error) => sdk_error(&format!("{} archive {key}", inner.url()), error).unless_not_found(()),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        Err(StoreError::new(
            StoreErrorKind::Other,
            format!(
                "{}: cannot list {prefix}: a vault is listed by an inventory job (`esker inventory request {}`)",
                self.inner.url(),
                self.inner.name
            ),
        ))
    }

    fn discard_unfinished(&self, key: &str) -> Result<(), StoreError> {
        for upload in self.unfinished_uploads(key)?.into_iter().filter(|upload| upload.key == key) {
            self.inner.abort_upload(&upload.upload_id)?;
        }
        Ok(())
    }

    fn unfinished_uploads(&self, prefix: &str) -> Result<Vec<UnfinishedUpload>, StoreError> {
        Ok(self
            .inner
            .multipart_uploads()?
            .into_iter()
            .filter_map(|(upload_id, description, _)| {
                let label = ArchiveLabel::parse(&description)?;
                label.key.starts_with(prefix).then_some(UnfinishedUpload { key: label.key, upload_id })
            })
            .collect())
    }

    fn request_restore(&self, key: &str, _days: u32, tier: RestoreTier) -> Result<RestoreState, StoreError> {
        // The whole archive; its size is not needed without a range.
        let inner = &self.inner;
        if let Some((_, state)) = self.find_job(key, None)? {
            return Ok(state);
        }
        let parameters = JobParameters::builder()
            .r#type("archive-retrieval")
            .archive_id(key)
            .tier(tier_name(tier))
            .description("esker restore")
            .build();
        inner
            .block_on(inner.initiate_job().job_parameters(parameters).send())
            .map_err(|error| sdk_error(&format!("{} archive {key}", inner.url()), error))?;
        Ok(RestoreState::Restoring)
    }

    fn start_restore(
        &self,
        key: &str,
        range: Range<u64>,
        object_size: u64,
        _days: u32,
        tier: RestoreTier,
    ) -> Result<StartedRestore, StoreError> {
        if range.is_empty() {
            // Nothing to read (folders, symlinks): no job.
            return Ok(StartedRestore { state: RestoreState::Online, job: None });
        }
        let inner = &self.inner;
        let wanted = mib_aligned(&range, object_size);
        let whole = wanted.start == 0 && wanted.end >= object_size;
        if let Some((job, state)) = self.find_job(key, Some((&wanted, object_size)))? {
            return Ok(StartedRestore { state, job: Some(job) });
        }
        let mut parameters = JobParameters::builder()
            .r#type("archive-retrieval")
            .archive_id(key)
            .tier(tier_name(tier))
            .description("esker restore");
        if !whole {
            parameters = parameters.retrieval_byte_range(format!("{}-{}", wanted.start, wanted.end - 1));
        }
        let output = inner
            .block_on(inner.initiate_job().job_parameters(parameters.build()).send())
            .map_err(|error| sdk_error(&format!("{} archive {key}", inner.url()), error))?;
        let id = output.job_id().unwrap_or_default().to_string();
        tracing::debug!("{}: archive-retrieval job {id} for bytes {wanted:?} of {key}", inner.url());
        // The cached listing learns of the new job, so a later bundle (or the same one asked
        // again) in this pass finds it without listing the vault again.
        let mut described = GlacierJobDescription::builder()
            .job_id(&id)
            .archive_id(key)
            .status_code(StatusCode::InProgress)
            .archive_size_in_bytes(object_size as i64);
        if !whole {
            described = described.retrieval_byte_range(format!("{}-{}", wanted.start, wanted.end - 1));
        }
        if let Some((_, jobs)) = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_mut() {
            Arc::make_mut(jobs).push(described.build());
        }
        Ok(StartedRestore {
            state: RestoreState::Restoring,
            job: Some(RestoreJob { id, range: if whole { 0..object_size } else { wanted }, object_size }),
        })
    }

    fn restore_state(&self, key: &str, job: Option<&RestoreJob>) -> Result<Option<RestoreState>, StoreError> {
        let Some(job) = job else { return Ok(Some(RestoreState::Archived)) };
        let inner = &self.inner;
        match inner.describe_job(&job.id) {
            Ok(output) => match output.status_code() {
                Some(StatusCode::Succeeded) => {
                    Ok(Some(RestoreState::Restored { expires: expires(output.completion_date()) }))
                }
                Some(StatusCode::Failed) => Err(StoreError::new(
                    StoreErrorKind::Other,
                    format!(
                        "{} archive {key}: retrieval job {} failed: {}",
                        inner.url(),
                        job.id,
                        output.status_message().unwrap_or("no reason given")
                    ),
                )),
                _ => Ok(Some(RestoreState::Restoring)),
            },
            Err(error) => error.unless_not_found(Some(RestoreState::Archived)),
        }
    }

    fn read_restored(&self, key: &str, job: Option<&RestoreJob>, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        let inner = &self.inner;
        // Empty files need no bytes, and no job (a retrieval of only empty files has none).
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let Some(job) = job else {
            return Err(StoreError::new(
                StoreErrorKind::NotRestored,
                format!("{} archive {key}: no retrieval job to read from", inner.url()),
            ));
        };
        if range.start < job.range.start || range.end > job.range.end {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                format!(
                    "{} archive {key}: bytes {range:?} are outside retrieval job {}'s range {:?}",
                    inner.url(),
                    job.id,
                    job.range
                ),
            ));
        }
        let wanted = range.start - job.range.start..range.end - job.range.start;
        let fetched = download_range(&job.range, job.object_size, &wanted);
        let what = format!("{} archive {key} job {}", inner.url(), job.id);
        let whole = fetched.start == 0 && fetched.end == job.range.end - job.range.start;
        let (bytes, checked) = inner.job_output(&job.id, (!whole).then(|| fetched.clone()), &what)?;
        if bytes.len() as u64 != fetched.end - fetched.start {
            return Err(StoreError::new(
                StoreErrorKind::Io,
                format!("{what}: asked for {} bytes, got {}", fetched.end - fetched.start, bytes.len()),
            ));
        }
        tracing::debug!("{what}: read {fetched:?} of the output, tree hash checked: {checked}");
        let offset = (wanted.start - fetched.start) as usize;
        Ok(bytes[offset..offset + (wanted.end - wanted.start) as usize].to_vec())
    }
}

/// The storage class the catalog records for vault bundles (priced in the pricing table).
pub const GLACIER_VAULT_CLASS: &str = "GLACIER_VAULT";

/// Re-exported for the writer: the tree hash of one buffer.
pub(super) fn hash_hex(bytes: &[u8]) -> (tree_hash::Hash, String) {
    let hash = tree_hash(bytes);
    (hash, to_hex(&hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_archive_ids_address_archives() {
        assert!(!is_archive_id("bundles/x.tar"));
        assert!(is_archive_id(
            "NkbByEejwEggmBz2fTHgJrg0XBoDfjP4q6iu87-TjhqG6eGoOY9Z8i1_AUyUsuhPAdTqLHy8pTl5nfCFJmDl2yEZONi5L26Omw12vcs01MNGntHEQL8MBfGlqrEXAMPLEARCHIVEID"
        ));
    }
}
