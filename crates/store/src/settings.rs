//! What a store needs to know to reach its backend, as the application resolved it.

use std::path::PathBuf;

use serde::Serialize;

/// A store, resolved.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StoreSettings {
    Local {
        path: PathBuf,
        /// Simulated cold storage: seconds until a restore completes.
        #[serde(skip_serializing_if = "Option::is_none")]
        cold_delay: Option<u64>,
        /// Simulated cold storage: seconds a restored copy lasts (default: the days asked).
        #[serde(skip_serializing_if = "Option::is_none")]
        cold_lifetime: Option<u64>,
    },
    S3(S3Settings),
    Glacier(GlacierSettings),
}

/// How an AWS-backed store (S3, Glacier vault) reaches its service; credentials come from
/// the standard AWS chain (env, profile, SSO, IMDS), never from here.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AwsClientSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// Part uploads in flight per object.
    pub upload_concurrency: usize,
    /// Attempts per request before it fails (throttling, 5xx, timeouts).
    pub max_attempts: u32,
}

/// An S3 (or S3-compatible) bucket.
#[derive(Debug, Clone, Serialize)]
pub struct S3Settings {
    pub bucket: String,
    /// Prepended to every key; empty or ending with `/`.
    pub prefix: String,
    pub storage_class: String,
    pub manifest_storage_class: String,
    #[serde(flatten)]
    pub client: AwsClientSettings,
    pub force_path_style: bool,
    pub part_size: u64,
}

pub const S3_STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
    "REDUCED_REDUNDANCY",
];

/// A vault of the Glacier vault API (the 2012 one).
#[derive(Debug, Clone, Serialize)]
pub struct GlacierSettings {
    pub vault: String,
    /// `-` means the account of the credentials.
    pub account_id: String,
    #[serde(flatten)]
    pub client: AwsClientSettings,
    /// Multipart part size: a power of two MiB, 1 MiB to 4 GiB.
    pub part_size: u64,
    /// Bundles of at least this many bytes go up as multipart uploads; smaller ones in one
    /// UploadArchive request (at most 4 GiB).
    pub multipart_threshold: u64,
}
