//! Naming the principals the catalog mentions (files' uid and gid, ACL entries) and keeping
//! the index in step when names arrive later (`esker identities refresh`).

use std::path::Path;

use crate::acl::{Resolution, Resolver, ResolverReport};
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::error::Result;

/// Names principals while `archive` records rows: each key the run meets that the catalog
/// has no name for is looked up once, and saved before the rows naming it are committed, so
/// the index (which follows the catalog during the run) finds the names.
pub struct Namer {
    resolver: Resolver,
    /// Owners and groups (`false`/`true`, id) met: checked per row without making a key.
    seen_ids: std::collections::HashSet<(bool, i64)>,
    /// ACL principals met.
    seen: std::collections::HashSet<String>,
}

impl Namer {
    pub fn new(ldap: Option<crate::acl::LdapSettings>) -> Namer {
        Namer { resolver: Resolver::new(ldap), seen_ids: Default::default(), seen: Default::default() }
    }

    /// Looks up and saves the keys of `rows` this run has not met yet and the catalog has
    /// no name for. A name the catalog has is kept: a renamed account gets its new name
    /// from `identities refresh --all`, which also rewrites the index entries that carry the
    /// old one, so that `owner:` and `principal:` always search the names `find` shows.
    pub fn name_rows(&mut self, catalog: &mut Catalog, rows: &[crate::catalog::PendingFile]) -> Result<()> {
        let mut new = Vec::new();
        for pending in rows {
            for (group, id) in [(false, pending.row.uid), (true, pending.row.gid)] {
                if self.seen_ids.insert((group, id)) {
                    new.push(if group { format!("gid:{id}") } else { format!("uid:{id}") });
                }
            }
            for entry in pending.attributes.iter().flat_map(|found| found.acl.iter()) {
                if !self.seen.contains(&entry.principal) {
                    self.seen.insert(entry.principal.clone());
                    new.push(entry.principal.clone());
                }
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        let named = catalog.identity_names_of(&new)?;
        new.retain(|key| !named.contains_key(key));
        if new.is_empty() {
            return Ok(());
        }
        let resolutions: Vec<Resolution> = new.iter().map(|key| self.resolver.resolve(key)).collect();
        catalog.save_identities(&resolutions)?;
        Ok(())
    }

    pub fn report(&self) -> ResolverReport {
        self.resolver.report().clone()
    }
}

/// What `identities refresh` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RefreshReport {
    pub checked: u64,
    /// Keys whose name was found or changed.
    pub renamed: Vec<Resolution>,
    pub unresolved: Vec<Resolution>,
    pub ldap_error: Option<String>,
    /// Index documents rewritten with the new names.
    pub reindexed: u64,
}

/// Looks names up again: the unnamed principals, or with `all` every cached one (names can
/// change in the directory). Documents of files naming a changed principal are rewritten.
pub fn refresh(catalog: &mut Catalog, settings: &Settings, index_dir: &Path, all: bool) -> Result<RefreshReport> {
    let known = catalog.identity_names()?;
    let mut keys = catalog.unnamed_principals()?;
    if all {
        keys.extend(known.keys().cloned());
        keys.sort_unstable();
        keys.dedup();
    }
    let mut resolver = Resolver::new(settings.ldap.clone());
    let resolutions: Vec<Resolution> = keys.iter().map(|key| resolver.resolve(key)).collect();
    let changed: Vec<String> = resolutions
        .iter()
        .filter(|resolution| resolution.name.is_some() && known.get(&resolution.key) != resolution.name.as_ref())
        .map(|resolution| resolution.key.clone())
        .collect();
    // New names are saved only once the index writer is ours: were it locked (an archive
    // running), saving first would leave documents that the next refresh, finding the
    // names already saved, would never rewrite.
    let reindexer = if changed.is_empty() { None } else { Some(crate::search::Reindexer::start(index_dir)?) };
    catalog.save_identities(&resolutions)?;
    let reindexed = match reindexer {
        Some(reindexer) => {
            let file_ids = catalog.files_naming(&changed)?;
            reindexer.rewrite(catalog, &file_ids)?
        }
        None => 0,
    };
    let (renamed, unresolved): (Vec<Resolution>, Vec<Resolution>) =
        resolutions.into_iter().partition(|resolution| resolution.name.is_some());
    let renamed: Vec<Resolution> =
        renamed.into_iter().filter(|resolution| known.get(&resolution.key) != resolution.name.as_ref()).collect();
    Ok(RefreshReport {
        checked: keys.len() as u64,
        renamed,
        unresolved,
        ldap_error: resolver.report().ldap_error.clone(),
        reindexed,
    })
}

/// Resolves keys without touching the catalog (`identities lookup`, to test a config).
pub fn lookup(settings: &Settings, keys: &[String]) -> Vec<Resolution> {
    let mut resolver = Resolver::new(settings.ldap.clone());
    keys.iter().map(|key| resolver.resolve(key)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{CatalogLocation, NewFile, NewRun, PendingFile};

    /// An archive run keeps the names the catalog has (the index's documents carry them as
    /// search terms), looks up only the keys without one, and leaves renames to `refresh`.
    #[test]
    fn a_run_names_only_principals_without_a_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut catalog = Catalog::open(&CatalogLocation::Sqlite(dir.path().join("catalog.db"))).expect("create");
        let run_id = catalog.create_run(&NewRun::for_tests()).expect("run");
        let saved = |key: &str, name: Option<&str>| Resolution {
            key: key.into(),
            name: name.map(Into::into),
            source: if name.is_some() { "nss" } else { "none" },
            error: None,
        };
        // uid 0 was named before under another name; gid 0 was looked up and not found.
        catalog.save_identities(&[saved("uid:0", Some("oldname")), saved("gid:0", None)]).expect("save");

        let mut namer = Namer::new(None);
        let rows = [PendingFile { dir_path: b"/src".to_vec(), row: NewFile::for_tests(run_id, "a"), attributes: None }];
        namer.name_rows(&mut catalog, &rows).expect("name");
        let names = catalog.identity_names().expect("names");
        assert_eq!(names.get("uid:0").map(String::as_str), Some("oldname"), "kept, not looked up again");
        assert_eq!(names.get("gid:0").map(String::as_str), Some("root"), "looked up again: it had no name");
        let report = namer.report();
        assert_eq!(report.resolved + report.unresolved, 1, "one lookup: {report:?}");
    }
}
