//! Choosing what to retrieve: by query (the `find` language), bundle id or file id.

use std::collections::BTreeMap;

use crate::config::Settings;
use crate::error::{Error, Result};
use esker_catalog::{Catalog, FileRecord};

/// The files a retrieval brings back, grouped by bundle.
#[derive(Debug, Default)]
pub struct Selection {
    /// Readable from a bundle: bundle row id → files in tar order.
    pub by_bundle: BTreeMap<i64, Vec<FileRecord>>,
    /// Matched, but not stored in any bundle (skipped files): reported, not retrieved.
    pub not_stored: Vec<FileRecord>,
    /// How the user selected, for the catalog and for people.
    pub description: String,
    /// True when no selector was given (everything in the catalog).
    pub everything: bool,
}

impl Selection {
    pub fn files(&self) -> usize {
        self.by_bundle.values().map(Vec::len).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.by_bundle.values().flatten().map(|record| record.file.size.max(0) as u64).sum()
    }

    pub fn records(&self) -> impl Iterator<Item = &FileRecord> {
        self.by_bundle.values().flatten()
    }
}

/// Which version of each matching path a query selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The newest version that is not a deletion marker.
    Latest,
    /// The version a given run recorded.
    Run(i64),
    /// The newest version recorded by a run started before this time (seconds).
    Before(i64),
}

/// Keeps, of the versions in `ids`, the ones `version` names (at most one per path).
fn choose_versions(catalog: &mut Catalog, ids: Vec<i64>, version: Version) -> Result<Vec<i64>> {
    match version {
        Version::Latest => crate::search::latest_only(catalog, ids),
        Version::Run(run) => Ok(catalog
            .records_by_ids(&ids)?
            .into_iter()
            .filter(|record| record.file.run_id == run)
            .map(|r| r.file.id)
            .collect()),
        Version::Before(time) => {
            let mut newest: std::collections::HashMap<(i64, Vec<u8>), i64> = std::collections::HashMap::new();
            for record in catalog.records_by_ids(&ids)? {
                if record.run.started_at >= time || record.file.state == esker_catalog::FileState::Deleted {
                    continue;
                }
                let slot = newest.entry((record.file.dir_id, record.file.name.clone())).or_insert(record.file.id);
                *slot = (*slot).max(record.file.id);
            }
            Ok(newest.into_values().collect())
        }
    }
}

/// Resolves the selectors into files. With none, selects every stored file. A query picks
/// one version per path (`version`); bundles and file ids are taken as given.
pub fn select(
    settings: &Settings,
    catalog: &mut Catalog,
    query: Option<&str>,
    bundles: &[String],
    files: &[i64],
    version: Version,
) -> Result<Selection> {
    let mut ids: Vec<i64> = Vec::new();
    let mut parts = Vec::new();
    let everything = query.is_none() && bundles.is_empty() && files.is_empty() && version == Version::Latest;
    let mut matched: Option<Vec<i64>> = None;
    if let Some(query) = query {
        let parsed = crate::search::parse_query(query)?;
        crate::search::catch_up_or_warn(catalog, &settings.home.index, |_| {})?;
        if let Some(index) = esker_index::FileIndex::open(&settings.home.index)? {
            matched = Some(index.search(&parsed, None)?.into_iter().map(|hit| hit.file_id as i64).collect());
        }
        parts.push(format!("query {query:?}"));
    } else if version != Version::Latest && bundles.is_empty() && files.is_empty() {
        matched = Some(catalog.stored_file_ids()?);
    }
    if let Some(matched) = matched {
        ids.extend(choose_versions(catalog, matched, version)?);
        match version {
            Version::Latest => {}
            Version::Run(run) => parts.push(format!("run {run}")),
            Version::Before(time) => parts.push(format!("before {}", esker_model::time::format_rfc3339(time))),
        }
    }
    for bundle in bundles {
        let row = catalog
            .bundle_by_uuid(bundle)?
            .ok_or_else(|| Error::Input(format!("no bundle `{bundle}` in the catalog (see esker bundles)")))?;
        ids.extend(catalog.bundle_records(row.id)?.into_iter().map(|record| record.file.id));
        parts.push(format!("bundle {bundle}"));
    }
    if !files.is_empty() {
        let found = catalog.records_by_ids(files)?;
        if let Some(missing) = files.iter().find(|id| !found.iter().any(|record| record.file.id == **id)) {
            return Err(Error::Input(format!("no file with id {missing} in the catalog")));
        }
        ids.extend(files);
        parts.push(format!("files {}", files.iter().map(i64::to_string).collect::<Vec<_>>().join(",")));
    }
    if everything {
        let stored = catalog.stored_file_ids()?;
        ids = crate::search::latest_only(catalog, stored)?;
        parts.push("everything".into());
    }
    ids.sort_unstable();
    ids.dedup();
    let selection = Selection { description: parts.join(" + "), everything, ..Selection::default() };
    group_by_bundle(catalog, &ids, selection)
}

/// Fills `selection` with the records of `ids`, one version per path (the newest selected
/// one: a path written twice would race), grouped by bundle in data-offset order; records
/// with no stored bytes go to `not_stored`.
fn group_by_bundle(catalog: &mut Catalog, ids: &[i64], mut selection: Selection) -> Result<Selection> {
    let mut newest: std::collections::HashMap<(i64, Vec<u8>), FileRecord> = std::collections::HashMap::new();
    for record in catalog.records_by_ids(ids)? {
        let key = (record.file.dir_id, record.file.name.clone());
        if newest.get(&key).is_none_or(|kept| kept.file.id < record.file.id) {
            newest.insert(key, record);
        }
    }
    for record in newest.into_values() {
        match (record.file.bundle_id, record.file.data_offset, record.file.state.as_str()) {
            (Some(bundle), Some(_), "archived" | "changed") => {
                selection.by_bundle.entry(bundle).or_default().push(record)
            }
            _ => selection.not_stored.push(record),
        }
    }
    for records in selection.by_bundle.values_mut() {
        records.sort_by_key(|record| record.file.data_offset);
    }
    Ok(selection)
}
