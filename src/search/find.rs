//! Running a query: parse, bring the index up to date, search, read the rows from the catalog.

use esker_index::{FileIndex, Query};
use serde::Serialize;

use crate::config::Settings;
use crate::error::Result;
use esker_catalog::{Catalog, CatalogLocation, FileRecord};

/// One match, as `find --json` prints it.
#[derive(Debug, Serialize)]
pub struct Match {
    pub file_id: i64,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    pub kind: String,
    pub size: i64,
    pub mtime: String,
    pub mtime_ns: i64,
    pub mode: String,
    pub uid: i64,
    pub gid: i64,
    /// Owner and group names (local NSS or LDAP), when known.
    pub owner: Option<String>,
    pub group: Option<String>,
    pub tags: Vec<String>,
    pub description: String,
    pub bundle: Option<String>,
    pub store: String,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub run: i64,
    pub host: String,
    pub blake3: Option<String>,
    pub header_offset: Option<i64>,
    pub data_offset: Option<i64>,
    /// Extended attributes (`archive --xattrs`): name and value (lossy text).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<crate::acl::Xattr>,
    /// ACL entries, with `name` filled in where the principal is known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub acl: Vec<AclView>,
}

/// One ACL entry of a match.
#[derive(Debug, Serialize)]
pub struct AclView {
    #[serde(flatten)]
    pub entry: esker_catalog::PrincipalRow,
    pub name: Option<String>,
}

impl Match {
    pub fn from_record(record: FileRecord) -> Match {
        let (_, path_hex) = esker_bundle::text_and_hex(&record.path());
        Match {
            file_id: record.file.id,
            path: record.path_text(),
            path_hex,
            kind: record.file.kind.clone(),
            size: record.file.size,
            mtime: esker_model::time::format_rfc3339(record.file.mtime_ns.div_euclid(1_000_000_000)),
            mtime_ns: record.file.mtime_ns,
            mode: esker_bundle::mode_text(record.file.mode as u32),
            uid: record.file.uid,
            gid: record.file.gid,
            owner: None,
            group: None,
            tags: record.run.tag_list(),
            description: record.run.description.clone(),
            store: record.bundle_store.clone().unwrap_or_else(|| record.run.store.clone()),
            bundle: record.bundle_uuid,
            state: record.file.state.to_string(),
            reason: record.file.reason,
            run: record.run.id,
            host: record.run.host.clone(),
            blake3: record.file.blake3,
            header_offset: record.file.header_offset,
            data_offset: record.file.data_offset,
            xattrs: Vec::new(),
            acl: Vec::new(),
        }
    }
}

/// Records as matches with owner names, xattrs and ACL entries filled in.
pub fn matches_of(catalog: &mut Catalog, records: Vec<FileRecord>) -> Result<Vec<Match>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = records.iter().map(|record| record.file.id).collect();
    let (mut xattrs, mut principals) = if catalog.has_attributes()? {
        (catalog.xattrs_of(&ids)?, catalog.principals_of(&ids)?)
    } else {
        Default::default()
    };
    // Only the names these matches show: a directory may hold many thousands.
    let mut keys: Vec<String> = records
        .iter()
        .flat_map(|record| [format!("uid:{}", record.file.uid), format!("gid:{}", record.file.gid)])
        .chain(principals.values().flatten().map(|entry| entry.principal.clone()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let names = catalog.identity_names_of(&keys)?;
    Ok(records
        .into_iter()
        .map(|record| {
            let mut found = Match::from_record(record);
            found.owner = names.get(&format!("uid:{}", found.uid)).cloned();
            found.group = names.get(&format!("gid:{}", found.gid)).cloned();
            found.xattrs = xattrs.remove(&found.file_id).unwrap_or_default();
            found.acl = principals
                .remove(&found.file_id)
                .unwrap_or_default()
                .into_iter()
                .map(|entry| AclView { name: names.get(&entry.principal).cloned(), entry })
                .collect();
            found
        })
        .collect())
}

/// Matches of a query, best first, and how many there are in all.
pub struct FindResult {
    pub matches: Vec<Match>,
    pub total: usize,
    /// `total` counts every version of the matching paths (an upper bound of paths).
    pub total_is_upper_bound: bool,
    /// True when the home has no catalog yet.
    pub empty_catalog: bool,
}

/// Keeps, of each path's versions among `ids`, only its latest one that is not a `deleted`
/// marker (the order of `ids` is kept).
pub fn latest_only(catalog: &mut Catalog, ids: Vec<i64>) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(ids);
    }
    let latest = catalog.latest_version_ids(&ids)?;
    Ok(ids.into_iter().filter(|id| latest.get(id) == Some(id)).collect())
}

/// The open catalog and index that queries run against. The index catches up with the
/// catalog when it is opened, so every committed row is searchable.
pub struct Finder {
    /// None when the home has no catalog yet.
    catalog: Option<Catalog>,
    index: Option<FileIndex>,
}

impl Finder {
    /// Opens the catalog and index of `settings`.
    pub fn open(settings: &Settings) -> Result<Finder> {
        Finder::at(&settings.catalog, &settings.home.index)
    }

    /// [`Finder::open`] for the catalog at `location` and the index in `index_dir`.
    pub fn at(location: &CatalogLocation, index_dir: &std::path::Path) -> Result<Finder> {
        let Some(mut catalog) = Catalog::open_existing(location)? else {
            return Ok(Finder { catalog: None, index: None });
        };
        let index = match super::sync::catch_up_open(&mut catalog, index_dir, |_| {}) {
            Ok((index, _)) => Some(index),
            Err(crate::Error::Index(esker_index::IndexError::Locked { .. })) => {
                tracing::warn!("the index is being written by another process; results may miss the newest files");
                FileIndex::open(index_dir)?
            }
            Err(crate::Error::Index(esker_index::IndexError::ReadOnly { .. })) => {
                tracing::warn!(
                    "the newest files are not indexed yet and this user may not index them; results may miss them"
                );
                FileIndex::open(index_dir)?
            }
            Err(error) => return Err(error),
        };
        Ok(Finder { catalog: Some(catalog), index })
    }

    /// Runs `query`. `limit` None = every match. Unless `all_versions`, each path shows up
    /// once, as its latest version.
    pub fn find(&mut self, query: &Query, limit: Option<usize>, all_versions: bool) -> Result<FindResult> {
        let empty =
            |empty_catalog| FindResult { matches: Vec::new(), total: 0, total_is_upper_bound: false, empty_catalog };
        // Older versions and deletion markers are filtered out after the search, so fetch
        // more hits than the limit, and more again until it is filled or the hits run out.
        let mut fetch = if all_versions { limit } else { limit.map(|limit| limit.saturating_mul(4).max(64)) };
        let Some(catalog) = &mut self.catalog else { return Ok(empty(true)) };
        let Some(index) = &self.index else { return Ok(empty(false)) };
        let mut hits = index.search(query, fetch)?;
        let mut total_is_upper_bound = false;
        let (ids, total) = if all_versions {
            let total = if limit.is_some_and(|limit| hits.len() >= limit) { index.count(query)? } else { hits.len() };
            (hits.iter().map(|hit| hit.file_id as i64).collect::<Vec<_>>(), total)
        } else {
            loop {
                let exhausted = fetch.is_none_or(|fetch| hits.len() < fetch);
                let ids = latest_only(catalog, hits.iter().map(|hit| hit.file_id as i64).collect())?;
                if exhausted || limit.is_some_and(|limit| ids.len() >= limit) {
                    // Resolving versions over every hit only to count them costs seconds on
                    // broad queries: past the limit, report the index's count (all versions)
                    // as a bound.
                    let (total, bound) = if exhausted { (ids.len(), false) } else { (index.count(query)?, true) };
                    total_is_upper_bound = bound;
                    let shown = limit.map_or(ids.len(), |limit| limit.min(ids.len()));
                    break (ids[..shown].to_vec(), total);
                }
                fetch = fetch.map(|fetch| fetch.saturating_mul(4));
                hits = index.search(query, fetch)?;
            }
        };
        let records = catalog.records_by_ids(&ids)?;
        let matches = matches_of(catalog, records)?;
        Ok(FindResult { matches, total, total_is_upper_bound, empty_catalog: false })
    }
}
