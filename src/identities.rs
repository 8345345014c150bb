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
    seen: std::collections::HashSet<String>,
}

impl Namer {
    pub fn new(ldap: Option<crate::acl::LdapSettings>) -> Namer {
        Namer { resolver: Resolver::new(ldap), seen: Default::default() }
    }

    /// Looks up and saves the keys of `rows` this run has not met yet.
    pub fn name_rows(&mut self, catalog: &mut Catalog, rows: &[crate::catalog::PendingFile]) -> Result<()> {
        let mut new = Vec::new();
        for pending in rows {
            let keys = [format!("uid:{}", pending.row.uid), format!("gid:{}", pending.row.gid)];
            let acl = pending.attributes.iter().flat_map(|found| found.acl.iter().map(|entry| entry.principal.clone()));
            for key in keys.into_iter().chain(acl) {
                if self.seen.insert(key.clone()) {
                    new.push(key);
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
    let known: std::collections::HashMap<String, Option<String>> =
        catalog.identities()?.into_iter().map(|row| (row.principal, row.name)).collect();
    let mut keys = catalog.unnamed_principals()?;
    if all {
        keys.extend(known.keys().cloned());
        keys.sort_unstable();
        keys.dedup();
    }
    let mut resolver = Resolver::new(settings.ldap.clone());
    let resolutions: Vec<Resolution> = keys.iter().map(|key| resolver.resolve(key)).collect();
    catalog.save_identities(&resolutions)?;
    let (renamed, unresolved): (Vec<Resolution>, Vec<Resolution>) =
        resolutions.into_iter().partition(|resolution| resolution.name.is_some());
    let renamed: Vec<Resolution> = renamed
        .into_iter()
        .filter(|resolution| known.get(&resolution.key).cloned().flatten() != resolution.name)
        .collect();
    let changed: Vec<String> = renamed.iter().map(|resolution| resolution.key.clone()).collect();
    let reindexed = if changed.is_empty() {
        0
    } else {
        let file_ids = catalog.files_naming(&changed)?;
        crate::search::reindex_files(catalog, index_dir, &file_ids)?
    };
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
