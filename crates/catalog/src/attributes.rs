//! Extended attributes, ACL entries and the identity cache: recording them with file rows,
//! reading them back for the index and for restores, and keeping principal names.

use std::collections::HashMap;

use diesel::prelude::*;

use super::any::{AnyConnection, RunAny};
use super::connection::Catalog;
use super::error::CatalogError;
use super::schema::{files, identities, principals, xattrs};
use esker_model::{AclEntry, Resolution, Xattr};

/// Rows per multi-row INSERT of attributes (well under SQLite's bound-variable limit).
const CHUNK: usize = 2000;
/// Ids per `IN (...)` lookup.
const LOOKUP_CHUNK: usize = 5000;

/// What `archive --xattrs` found on one file.
#[derive(Debug, Clone, Default)]
pub struct FileAttributes {
    pub xattrs: Vec<Xattr>,
    pub acl: Vec<AclEntry>,
}

/// One ACL entry as the catalog keeps it.
#[derive(Debug, Clone, Queryable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = principals)]
pub struct PrincipalRow {
    pub file_id: i64,
    pub position: i32,
    pub source: String,
    pub access: String,
    pub principal: String,
    pub rights: String,
    pub flags: String,
}

/// One extended attribute row (catalog export/import).
#[derive(Debug, Clone, Queryable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = xattrs)]
pub struct XattrRow {
    pub file_id: i64,
    pub name: Vec<u8>,
    pub name_text: String,
    pub value: Vec<u8>,
}

/// One cached identity.
#[derive(Debug, Clone, Queryable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = identities)]
pub struct IdentityRow {
    pub principal: String,
    pub name: Option<String>,
    pub source: String,
    pub error: Option<String>,
    pub checked_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = xattrs)]
struct NewXattr<'a> {
    file_id: i64,
    name: &'a [u8],
    name_text: String,
    value: &'a [u8],
}

#[derive(Insertable)]
#[diesel(table_name = principals)]
struct NewPrincipal<'a> {
    file_id: i64,
    position: i32,
    source: &'a str,
    access: &'a str,
    principal: &'a str,
    rights: &'a str,
    flags: &'a str,
}

/// Inserts the attributes of freshly inserted file rows (inside the caller's transaction).
pub(crate) fn insert_attributes(
    connection: &mut AnyConnection,
    attributes: &[(i64, &FileAttributes)],
) -> Result<(), diesel::result::Error> {
    let mut xattr_rows = Vec::new();
    let mut principal_rows = Vec::new();
    for (file_id, found) in attributes {
        for xattr in &found.xattrs {
            xattr_rows.push(NewXattr {
                file_id: *file_id,
                name: &xattr.name,
                name_text: xattr.name_text(),
                value: &xattr.value,
            });
        }
        for (position, entry) in found.acl.iter().enumerate() {
            principal_rows.push(NewPrincipal {
                file_id: *file_id,
                position: position as i32,
                source: entry.source,
                access: entry.access.as_str(),
                principal: &entry.principal,
                rights: &entry.rights,
                flags: &entry.flags,
            });
        }
    }
    for chunk in xattr_rows.chunks(CHUNK) {
        diesel::insert_into(xattrs::table).values(chunk).execute_any(connection)?;
    }
    for chunk in principal_rows.chunks(CHUNK) {
        diesel::insert_into(principals::table).values(chunk).execute_any(connection)?;
    }
    Ok(())
}

impl Catalog {
    /// Xattr and ACL rows of files with ids in `(after, up_to]` (for exports).
    pub(crate) fn attribute_rows(
        &mut self,
        after: i64,
        up_to: i64,
    ) -> Result<(Vec<XattrRow>, Vec<PrincipalRow>), CatalogError> {
        let xattr_rows = xattrs::table
            .filter(xattrs::file_id.gt(after).and(xattrs::file_id.le(up_to)))
            .order((xattrs::file_id, xattrs::name))
            .select(xattrs::all_columns)
            .load_any(&mut self.connection)?;
        let principal_rows = principals::table
            .filter(principals::file_id.gt(after).and(principals::file_id.le(up_to)))
            .order((principals::file_id, principals::position))
            .select(principals::all_columns)
            .load_any(&mut self.connection)?;
        Ok((xattr_rows, principal_rows))
    }

    /// Whether any file has recorded xattrs or ACL entries (lets the indexer skip lookups).
    pub fn has_attributes(&mut self) -> Result<bool, CatalogError> {
        // One statement: `find` asks this once per query with matches.
        use diesel::dsl::exists;
        Ok(diesel::select(
            exists(xattrs::table.select(xattrs::file_id)).or(exists(principals::table.select(principals::file_id))),
        )
        .get_result_any(&mut self.connection)?)
    }

    /// The xattrs of each of `file_ids` that has any, sorted by name.
    pub fn xattrs_of(&mut self, file_ids: &[i64]) -> Result<HashMap<i64, Vec<Xattr>>, CatalogError> {
        let mut found: HashMap<i64, Vec<Xattr>> = HashMap::new();
        for chunk in file_ids.chunks(LOOKUP_CHUNK) {
            let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = xattrs::table
                .filter(xattrs::file_id.eq_any(chunk))
                .order((xattrs::file_id, xattrs::name))
                .select((xattrs::file_id, xattrs::name, xattrs::value))
                .load_any(&mut self.connection)?;
            for (file_id, name, value) in rows {
                found.entry(file_id).or_default().push(Xattr { name, value });
            }
        }
        Ok(found)
    }

    /// The ACL entries of each of `file_ids` that has any, in ACL order.
    pub fn principals_of(&mut self, file_ids: &[i64]) -> Result<HashMap<i64, Vec<PrincipalRow>>, CatalogError> {
        let mut found: HashMap<i64, Vec<PrincipalRow>> = HashMap::new();
        for chunk in file_ids.chunks(LOOKUP_CHUNK) {
            let rows: Vec<PrincipalRow> = principals::table
                .filter(principals::file_id.eq_any(chunk))
                .order((principals::file_id, principals::position))
                .select(principals::all_columns)
                .load_any(&mut self.connection)?;
            for row in rows {
                found.entry(row.file_id).or_default().push(row);
            }
        }
        Ok(found)
    }

    /// Every principal key the catalog mentions (files' owners and groups, ACL entries)
    /// that has no name yet.
    pub fn unnamed_principals(&mut self) -> Result<Vec<String>, CatalogError> {
        let mut keys: Vec<String> = Vec::new();
        let uids: Vec<i64> = files::table.select(files::uid).distinct().load_any(&mut self.connection)?;
        let gids: Vec<i64> = files::table.select(files::gid).distinct().load_any(&mut self.connection)?;
        keys.extend(uids.into_iter().map(|uid| format!("uid:{uid}")));
        keys.extend(gids.into_iter().map(|gid| format!("gid:{gid}")));
        keys.extend(
            principals::table.select(principals::principal).distinct().load_any::<String>(&mut self.connection)?,
        );
        keys.sort_unstable();
        keys.dedup();
        let named: std::collections::HashSet<String> = identities::table
            .filter(identities::name.is_not_null())
            .select(identities::principal)
            .load_any(&mut self.connection)?
            .into_iter()
            .collect();
        keys.retain(|key| !named.contains(key));
        Ok(keys)
    }

    /// Saves lookups. A key already named keeps its name when this lookup found none
    /// (a directory that was down must not erase what it said before). Safe when several
    /// processes save the same keys at once (insert-or-ignore, then update).
    pub fn save_identities(&mut self, resolutions: &[Resolution]) -> Result<(), CatalogError> {
        let now = esker_model::time::now_seconds();
        self.connection.transaction(|connection| {
            for resolution in resolutions {
                diesel::insert_into(identities::table)
                    .values((
                        identities::principal.eq(&resolution.key),
                        identities::name.eq(&resolution.name),
                        identities::source.eq(resolution.source),
                        identities::error.eq(&resolution.error),
                        identities::checked_at.eq(now),
                    ))
                    .on_conflict(identities::principal)
                    .do_nothing()
                    .execute_any(connection)?;
                let row = identities::table.find(&resolution.key);
                if resolution.name.is_some() {
                    diesel::update(row)
                        .set((
                            identities::name.eq(&resolution.name),
                            identities::source.eq(resolution.source),
                            identities::error.eq(&resolution.error),
                            identities::checked_at.eq(now),
                        ))
                        .execute_any(connection)?;
                } else {
                    diesel::update(row.filter(identities::name.is_null()))
                        .set((
                            identities::source.eq(resolution.source),
                            identities::error.eq(&resolution.error),
                            identities::checked_at.eq(now),
                        ))
                        .execute_any(connection)?;
                }
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(())
    }

    /// Every cached identity, by key.
    pub fn identities(&mut self) -> Result<Vec<IdentityRow>, CatalogError> {
        Ok(identities::table
            .order(identities::principal)
            .select(identities::all_columns)
            .load_any(&mut self.connection)?)
    }

    /// Names of the resolved principal keys.
    pub fn identity_names(&mut self) -> Result<HashMap<String, String>, CatalogError> {
        let rows: Vec<(String, Option<String>)> =
            identities::table.select((identities::principal, identities::name)).load_any(&mut self.connection)?;
        Ok(rows.into_iter().filter_map(|(key, name)| Some((key, name?))).collect())
    }

    /// Names of those of `keys` that are resolved principal keys.
    pub fn identity_names_of(&mut self, keys: &[String]) -> Result<HashMap<String, String>, CatalogError> {
        Ok(self.identities_of(keys)?.into_iter().filter_map(|(key, name)| Some((key, name?))).collect())
    }

    /// Those of `keys` the catalog has looked up before, with the name found (None: none).
    pub fn identities_of(&mut self, keys: &[String]) -> Result<HashMap<String, Option<String>>, CatalogError> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(LOOKUP_CHUNK) {
            let rows: Vec<(String, Option<String>)> = identities::table
                .filter(identities::principal.eq_any(chunk))
                .select((identities::principal, identities::name))
                .load_any(&mut self.connection)?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// Ids of the file rows owned by, grouped under, or with an ACL entry for any of `keys`.
    pub fn files_naming(&mut self, keys: &[String]) -> Result<Vec<i64>, CatalogError> {
        let uids: Vec<i64> = keys.iter().filter_map(|key| key.strip_prefix("uid:")?.parse().ok()).collect();
        let gids: Vec<i64> = keys.iter().filter_map(|key| key.strip_prefix("gid:")?.parse().ok()).collect();
        let mut ids: Vec<i64> = Vec::new();
        if !uids.is_empty() {
            ids.extend(
                files::table
                    .filter(files::uid.eq_any(&uids))
                    .select(files::id)
                    .load_any::<i64>(&mut self.connection)?,
            );
        }
        if !gids.is_empty() {
            ids.extend(
                files::table
                    .filter(files::gid.eq_any(&gids))
                    .select(files::id)
                    .load_any::<i64>(&mut self.connection)?,
            );
        }
        for chunk in keys.chunks(LOOKUP_CHUNK) {
            ids.extend(
                principals::table
                    .filter(principals::principal.eq_any(chunk))
                    .select(principals::file_id)
                    .load_any::<i64>(&mut self.connection)?,
            );
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }
}
