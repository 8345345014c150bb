//! Naming the principals the catalog mentions (files' uid and gid, ACL entries) and keeping
//! the index in step when names arrive later (`esker identities refresh`).

use std::path::Path;

use crate::acl::{Resolution, Resolver, ResolverReport};
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::error::Result;

/// Names principals while `archive` records rows: each key the run meets is looked up once,
/// and saved before the rows naming it are committed, so the index (which follows the
/// catalog during the run) finds the names.
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

    /// Looks up and saves the keys of `rows` this run has not met yet.
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
