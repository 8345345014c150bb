//! Choosing what to retrieve: by query (the `find` language), bundle id or file id.

use std::collections::BTreeMap;

use crate::catalog::{Catalog, FileRecord};
use crate::config::Settings;
use crate::error::{Error, Result};

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

/// Resolves the selectors into files. With none, selects every stored file.
pub fn select(
    settings: &Settings,
    catalog: &mut Catalog,
    query: Option<&str>,
    bundles: &[String],
    files: &[i64],
) -> Result<Selection> {
    let mut ids: Vec<i64> = Vec::new();
    let mut parts = Vec::new();
    let everything = query.is_none() && bundles.is_empty() && files.is_empty();
    if let Some(query) = query {
        let parsed = esker_index::parse_query(query)?;
        crate::search::catch_up(catalog, &settings.home.index, |_| {})?;
        if let Some(index) = esker_index::FileIndex::open(&settings.home.index)? {
            ids.extend(index.search(&parsed, None)?.into_iter().map(|hit| hit.file_id as i64));
        }
        parts.push(format!("query {query:?}"));
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
        ids = catalog.stored_file_ids()?;
        parts.push("everything".into());
    }
    ids.sort_unstable();
    ids.dedup();
    let mut selection = Selection { description: parts.join(" + "), everything, ..Selection::default() };
    for record in catalog.records_by_ids(&ids)? {
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
