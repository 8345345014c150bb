//! Glacier vault store (the 2012 vault API): bundles go up with UploadArchive or as
//! multipart uploads with SHA-256 tree hashes (see `glacier_writer`), the vault names each
//! archive (its archive id becomes the bundle's key), reads go through archive-retrieval
//! jobs over MiB-aligned byte ranges, and an inventory-retrieval job lists the vault so it
//! can be reconciled with the catalog. Network calls run on the store's own tokio runtime.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use aws_sdk_glacier::Client;
use aws_sdk_glacier::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_glacier::types::{GlacierJobDescription, JobParameters, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

use super::api::{
    ObjectInfo, ObjectWriter, RestoreJob, RestoreState, RestoreTier, StartedRestore, Store, StoredObject,
    UnfinishedUpload, WriteOptions,
};
use super::error::{StoreError, StoreErrorKind};
use super::glacier_writer::{GlacierWriter, part_size_for};
use super::tree_hash::{self, is_tree_hash_aligned, mib_aligned, to_hex, tree_hash};
use crate::GlacierSettings;

/// Job output stays readable this long after the job completes.
const OUTPUT_LIFETIME_SECONDS: i64 = 24 * 3600;

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

/// How long a listing of the vault's jobs is reused.
const JOB_LIST_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// What esker writes into an archive's description (printable ASCII, at most 1024
/// characters): its key, the bundle it belongs to and the run that wrote it, so a vault can
/// be matched to a catalog without one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveLabel {
    /// Always `1`: marks the archives esker wrote.
    pub esker: u32,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<i64>,
}

impl ArchiveLabel {
    pub fn new(key: &str, run: Option<i64>) -> ArchiveLabel {
        let name = key.rsplit('/').next().unwrap_or_default();
        let bundle = name.split('.').next().filter(|id| uuid::Uuid::parse_str(id).is_ok()).map(str::to_string);
        ArchiveLabel { esker: 1, key: key.to_string(), bundle, run }
    }

    /// The description text.
    pub fn description(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        text.chars().filter(|c| (' '..='~').contains(c)).take(1024).collect()
    }

    /// The label in a description, when esker wrote it.
    pub fn parse(description: &str) -> Option<ArchiveLabel> {
        serde_json::from_str::<ArchiveLabel>(description).ok().filter(|label| label.esker == 1)
    }
}

/// One archive of a vault inventory (the inventory-retrieval job's JSON output).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultArchive {
    #[serde(rename = "ArchiveId")]
    pub archive_id: String,
    #[serde(rename = "ArchiveDescription", default)]
    pub description: String,
    #[serde(rename = "CreationDate", default)]
    pub creation_date: String,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "SHA256TreeHash", default)]
    pub tree_hash: String,
}

/// A vault inventory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultInventory {
    #[serde(rename = "VaultARN", default)]
    pub vault_arn: String,
    #[serde(rename = "InventoryDate", default)]
    pub inventory_date: String,
    #[serde(rename = "ArchiveList", default)]
    pub archives: Vec<VaultArchive>,
}

/// Where an inventory-retrieval job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventoryJobState {
    Running,
    Succeeded,
    Failed(String),
    /// The vault no longer knows the job (its output expired, or it never existed).
    Gone,
}

impl GlacierStore {
    pub fn new(name: &str, settings: &GlacierSettings) -> Result<GlacierStore, StoreError> {
        Ok(GlacierStore {
            inner: Arc::new(Inner {
                name: name.to_string(),
                settings: settings.clone(),
                runtime: super::aws::runtime("esker-glacier")?,
                client: OnceLock::new(),
            }),
            jobs: std::sync::Mutex::new(None),
        })
    }

    pub fn vault(&self) -> &str {
        &self.inner.settings.vault
    }

    /// Starts an inventory-retrieval job (JSON); returns its job id.
    pub fn request_inventory(&self) -> Result<String, StoreError> {
        let inner = &self.inner;
        let parameters = JobParameters::builder()
            .r#type("inventory-retrieval")
            .format("JSON")
            .description("esker inventory")
            .build();
        let output = inner
            .block_on(inner.initiate_job().job_parameters(parameters).send())
            .map_err(|error| sdk_error(&inner.url(), error))?;
        output.job_id().map(str::to_string).ok_or_else(|| {
            StoreError::new(StoreErrorKind::Other, format!("{}: the vault returned no job id", inner.url()))
        })
    }

    /// Where an inventory job stands.
    pub fn inventory_state(&self, job_id: &str) -> Result<InventoryJobState, StoreError> {
        let inner = &self.inner;
        let described = inner.block_on(
            inner
                .client()
                .describe_job()
                .account_id(&inner.settings.account_id)
                .vault_name(&inner.settings.vault)
                .job_id(job_id)
                .send(),
        );
        match described {
            Ok(job) => Ok(match job.status_code() {
                Some(StatusCode::Succeeded) => InventoryJobState::Succeeded,
                Some(StatusCode::Failed) => {
                    InventoryJobState::Failed(job.status_message().unwrap_or("failed").to_string())
                }
                _ => InventoryJobState::Running,
            }),
            Err(error) => {
                sdk_error(&format!("{} job {job_id}", inner.url()), error).unless_not_found(InventoryJobState::Gone)
            }
        }
    }

    /// The output of a finished inventory job: the raw JSON, and its parsed form.
    pub fn inventory_output(&self, job_id: &str) -> Result<(Vec<u8>, VaultInventory), StoreError> {
        let inner = &self.inner;
        let what = format!("{} inventory job {job_id}", inner.url());
        let (bytes, _) = inner.job_output(job_id, None, &what)?;
        let inventory = serde_json::from_slice(&bytes).map_err(|error| {
            StoreError::new(StoreErrorKind::Other, format!("{what}: unreadable inventory: {error}"))
        })?;
        Ok((bytes, inventory))
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
    let shared = super::aws::load_config(super::aws::Connection {
        region: settings.region.as_deref(),
        profile: settings.profile.as_deref(),
        endpoint_url: settings.endpoint_url.as_deref(),
        max_attempts: settings.max_attempts,
    })
    .await;
    Client::new(&shared)
}

/// Maps an SDK error onto a store error kind, naming what it concerns.
pub(super) fn sdk_error<E>(what: &str, error: SdkError<E, aws_sdk_glacier::config::http::HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    super::aws::store_error(what, error, |error, code, status| match (error, code, status) {
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

fn tier_name(tier: RestoreTier) -> &'static str {
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

fn expires(completion: Option<&str>) -> Option<String> {
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

impl Store for GlacierStore {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn kind(&self) -> &'static str {
        "glacier"
    }

    fn location(&self) -> String {
        let settings = &self.inner.settings;
        format!(
            "glacier://{}/{}{}",
            settings.account_id,
            settings.vault,
            settings.region.as_deref().map(|region| format!(" ({region})")).unwrap_or_default()
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
            return Ok(Box::new(super::glacier_writer::ConfirmedWriter::new(self.inner.url(), confirmed)));
        }
        let label = ArchiveLabel::new(key, options.run);
        let part_size = part_size_for(options.size_hint, self.inner.settings.part_size);
        let mut writer = GlacierWriter::new(self.inner.clone(), key, label.description(), part_size);
        if options.resume {
            writer.resume_existing()?;
        }
        Ok(Box::new(writer))
    }

    fn put_small(&self, key: &str, bytes: &[u8], run: Option<i64>) -> Result<StoredObject, StoreError> {
        let description = ArchiveLabel::new(key, run).description();
        super::glacier_writer::upload_archive(&self.inner, key, &description, bytes.to_vec())
    }

    fn resumes_uploads(&self) -> bool {
        true
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
        let described = inner.block_on(
            inner
                .client()
                .describe_job()
                .account_id(&inner.settings.account_id)
                .vault_name(&inner.settings.vault)
                .job_id(&job.id)
                .send(),
        );
        match described {
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
            Err(error) => sdk_error(&format!("{} job {}", inner.url(), job.id), error)
                .unless_not_found(Some(RestoreState::Archived)),
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

impl GlacierStore {
    /// An archive-retrieval job of `key`, running or done, that covers `range` (or the whole
    /// archive when `range` is `None`), so a restore is never requested twice.
    fn find_job(
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

/// Re-exported for the writer: the tree hash of one buffer.
pub(super) fn hash_hex(bytes: &[u8]) -> (tree_hash::Hash, String) {
    let hash = tree_hash(bytes);
    (hash, to_hex(&hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_carry_key_bundle_and_run_and_round_trip() {
        let key = "bundles/01a201b2-3eb8-7128-a493-f5c7a81bb176.tar";
        let label = ArchiveLabel::new(key, Some(7));
        assert_eq!(label.bundle.as_deref(), Some("01a201b2-3eb8-7128-a493-f5c7a81bb176"));
        let text = label.description();
        assert!(text.chars().all(|c| (' '..='~').contains(&c)) && text.len() <= 1024, "{text}");
        assert_eq!(ArchiveLabel::parse(&text), Some(label));
        assert_eq!(ArchiveLabel::parse("my holiday photos"), None);
        let manifest = ArchiveLabel::new("manifests/01a201b2-3eb8-7128-a493-f5c7a81bb176.jsonl.zst", None);
        assert_eq!(manifest.bundle.as_deref(), Some("01a201b2-3eb8-7128-a493-f5c7a81bb176"));
    }

    #[test]
    fn only_archive_ids_address_archives() {
        assert!(!is_archive_id("bundles/x.tar"));
        assert!(is_archive_id(
            "NkbByEejwEggmBz2fTHgJrg0XBoDfjP4q6iu87-TjhqG6eGoOY9Z8i1_AUyUsuhPAdTqLHy8pTl5nfCFJmDl2yEZONi5L26Omw12vcs01MNGntHEQL8MBfGlqrEXAMPLEARCHIVEID"
        ));
    }

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
