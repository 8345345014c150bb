//! What the pipeline's threads hand each other: the run being written, bundles to pack,
//! and what packing them came to.

use std::collections::HashSet;

use uuid::Uuid;

use crate::archive::stored::{BundleError, PackOptions, PackedBundle};
use esker_bundle::PlannedBundle;

/// The run a pipeline writes into.
pub struct RunContext {
    pub run_id: i64,
    pub host: String,
    pub tags: Vec<String>,
    pub description: String,
    /// The directory that names owners and ACL principals (local NSS is always asked first).
    pub ldap: Option<crate::acl::LdapSettings>,
}

pub(super) struct Job {
    pub(super) row_id: i64,
    pub(super) id: Uuid,
    pub(super) bundle: PlannedBundle,
    pub(super) options: PackOptions,
}

/// What a resumed run already has: the paths it recorded and the bundles whose uploads
/// are to be finished.
#[derive(Default)]
pub struct Resumption {
    pub done: HashSet<u128>,
    pub bundles: Vec<ResumedBundle>,
}

/// A bundle an interrupted run had started uploading to a store that resumes uploads: it
/// is packed again from its saved plan, under the same id, before anything new.
pub struct ResumedBundle {
    pub row_id: i64,
    pub id: Uuid,
    pub bundle: PlannedBundle,
    pub created_ns: i64,
    /// The store had confirmed the object before the run stopped: it is packed again only
    /// to catalog it (and checked against what the store holds), not uploaded.
    pub confirmed: Option<esker_store::StoredObject>,
}

pub(super) struct Outcome {
    pub(super) row_id: i64,
    pub(super) id: Uuid,
    pub(super) result: std::result::Result<PackedBundle, BundleError>,
}
