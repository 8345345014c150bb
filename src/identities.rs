//! Naming the principals the catalog mentions (files' uid and gid, ACL entries) and keeping
//! the index in step when names arrive later (`esker identities refresh`).

use std::path::Path;

use crate::acl::{Resolution, Resolver, ResolverReport};
use crate::config::Settings;
use crate::error::Result;
use esker_catalog::Catalog;

/// Names principals while `archive` records rows: each key the run meets that the catalog
/// has never looked up is looked up once, and saved before the rows naming it are committed,
/// so the index (which follows the catalog during the run) finds the names.
pub struct Namer {
    resolver: Resolver,
    /// Keys met that the catalog had looked up before without finding a name.
    known_unnamed: u64,
    /// Owners and groups (`false`/`true`, id) met: checked per row without making a key.
    seen_ids: std::collections::HashSet<(bool, i64)>,
    /// ACL principals met.
    seen: std::collections::HashSet<String>,
}

impl Namer {
    pub fn new(ldap: Option<crate::acl::LdapSettings>) -> Namer {
        Namer {
            resolver: Resolver::new(ldap),
            known_unnamed: 0,
            seen_ids: Default::default(),
            seen: Default::default(),
        }
    }

    /// Looks up and saves the keys of `rows` that neither this run nor the catalog has met.
    /// A key the catalog knows keeps what it has there, a name or none: earlier runs' files
    /// name it too, and their index entries carry that as `owner:` and `principal:` terms.
    /// A name found later (a directory that was down) or a new one (a renamed account)
    /// comes from `identities refresh`, which rewrites those entries as well, so that the
    /// index always searches the names `find` shows. Keys still without a name count as
    /// unresolved in the run's report, whose summary points at `refresh`.
    pub fn name_rows(&mut self, catalog: &mut Catalog, rows: &[esker_catalog::PendingFile]) -> Result<()> {
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
        let known = catalog.identities_of(&new)?;
        self.known_unnamed += known.values().filter(|name| name.is_none()).count() as u64;
        new.retain(|key| !known.contains_key(key));
        if new.is_empty() {
            return Ok(());
        }
        let resolutions: Vec<Resolution> = new.iter().map(|key| self.resolver.resolve(key)).collect();
        catalog.save_identities(&resolutions)?;
        Ok(())
    }

    pub fn report(&self) -> ResolverReport {
        let mut report = self.resolver.report().clone();
        report.unresolved += self.known_unnamed;
        report
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
    use esker_catalog::{CatalogLocation, NewFile, NewRun, PendingFile};

    /// An archive run keeps what the catalog has for a key, a name or none (the index's
    /// entries carry it), looks up only keys the catalog has never met, and leaves later
    /// names to `refresh`; a key still without a name counts as unresolved.
    #[test]
    fn a_run_looks_up_only_principals_the_catalog_has_never_met() {
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
        let mut other = NewFile::for_tests(run_id, "b");
        other.gid = 65534;
        let rows = [NewFile::for_tests(run_id, "a"), other].map(|row| PendingFile {
            dir_path: b"/src".to_vec(),
            row,
            attributes: None,
        });
        namer.name_rows(&mut catalog, &rows).expect("name");
        let known = catalog.identities_of(&["uid:0".into(), "gid:0".into(), "gid:65534".into()]).expect("identities");
        assert_eq!(known.get("uid:0"), Some(&Some("oldname".to_string())), "kept, not looked up again");
        assert_eq!(known.get("gid:0"), Some(&None), "not looked up again: refresh does that");
        assert!(known.contains_key("gid:65534"), "new to the catalog: looked up and saved");
        let report = namer.report();
        assert_eq!(report.resolved + report.unresolved, 2, "one lookup and one known without a name: {report:?}");
        assert!(report.unresolved >= 1, "{report:?}");
    }
}
