//! A planned bundle saved in the catalog while it uploads to a store that resumes uploads
//! (vaults): packing the saved entries again with the same creation time gives the same
//! bytes, so an interrupted multipart upload can be finished instead of redone.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::plan::{PlanItem, PlannedBundle};
use esker_model::Xattr;
use esker_model::{Entry, FileKind, Stat};

#[derive(Serialize, Deserialize)]
struct SavedPlan {
    created_ns: i64,
    data_bytes: u64,
    items: Vec<SavedItem>,
}

#[derive(Serialize, Deserialize)]
struct SavedItem {
    /// Raw bytes as hex (paths need not be UTF-8).
    folder: String,
    name: String,
    kind: String,
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime_ns: i64,
    atime_ns: i64,
    ctime_ns: i64,
    inode: u64,
    device: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link_target: Option<String>,
    /// Extended attributes (`archive --xattrs`) as hex name and value: they are in the pax
    /// headers, so the same bytes need them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    xattrs: Vec<(String, String)>,
}

/// The bytes to keep for a planned bundle (zstd JSON).
pub fn save_plan(bundle: &PlannedBundle, created_ns: i64) -> Vec<u8> {
    let items = bundle
        .items
        .iter()
        .map(|item| {
            let stat = &item.entry.stat;
            SavedItem {
                folder: hex::encode(item.folder.as_os_str().as_bytes()),
                name: hex::encode(&item.entry.name),
                kind: stat.kind.as_str().to_string(),
                size: stat.size,
                mode: stat.mode,
                uid: stat.uid,
                gid: stat.gid,
                mtime_ns: stat.mtime_ns,
                atime_ns: stat.atime_ns,
                ctime_ns: stat.ctime_ns,
                inode: stat.inode,
                device: stat.device,
                link_target: item.entry.link_target.as_deref().map(hex::encode),
                xattrs: item
                    .entry
                    .xattrs
                    .iter()
                    .map(|xattr| (hex::encode(&xattr.name), hex::encode(&xattr.value)))
                    .collect(),
            }
        })
        .collect();
    let saved = SavedPlan { created_ns, data_bytes: bundle.data_bytes, items };
    let json = serde_json::to_vec(&saved).unwrap_or_default();
    zstd::encode_all(json.as_slice(), 3).unwrap_or_default()
}

/// A saved plan back as a planned bundle and its creation time; `None` when unreadable.
pub fn load_plan(bytes: &[u8]) -> Option<(PlannedBundle, i64)> {
    let json = zstd::decode_all(bytes).ok()?;
    let saved: SavedPlan = serde_json::from_slice(&json).ok()?;
    let mut items = Vec::with_capacity(saved.items.len());
    let mut folder: Option<Arc<PathBuf>> = None;
    for item in saved.items {
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(&hex::decode(&item.folder).ok()?));
        let shared = match &folder {
            Some(current) if **current == path => current.clone(),
            _ => Arc::new(path),
        };
        folder = Some(shared.clone());
        items.push(PlanItem {
            folder: shared,
            entry: Entry {
                name: hex::decode(&item.name).ok()?,
                stat: Stat {
                    kind: FileKind::parse(&item.kind)?,
                    size: item.size,
                    mode: item.mode,
                    uid: item.uid,
                    gid: item.gid,
                    mtime_ns: item.mtime_ns,
                    atime_ns: item.atime_ns,
                    ctime_ns: item.ctime_ns,
                    inode: item.inode,
                    device: item.device,
                },
                link_target: match item.link_target {
                    Some(target) => Some(hex::decode(target).ok()?),
                    None => None,
                },
                xattrs: item
                    .xattrs
                    .iter()
                    .map(|(name, value)| Some(Xattr { name: hex::decode(name).ok()?, value: hex::decode(value).ok()? }))
                    .collect::<Option<Vec<_>>>()?,
            },
        });
    }
    Some((PlannedBundle { items, data_bytes: saved.data_bytes }, saved.created_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_plan_loads_back_unchanged() {
        let folder = Arc::new(PathBuf::from(std::ffi::OsStr::from_bytes(b"/srv/share/\xffodd")));
        let mut stat = Stat::zeroed();
        stat.size = 42;
        stat.mtime_ns = 1_600_000_000_123_456_789;
        let mut link = Stat::zeroed();
        link.kind = FileKind::Symlink;
        let bundle = PlannedBundle {
            items: vec![
                PlanItem {
                    folder: folder.clone(),
                    entry: Entry {
                        name: b"a.txt".to_vec(),
                        stat,
                        link_target: None,
                        xattrs: vec![Xattr { name: b"user.project".to_vec(), value: b"apollo".to_vec() }],
                    },
                },
                PlanItem {
                    folder,
                    entry: Entry {
                        name: b"link".to_vec(),
                        stat: link,
                        link_target: Some(b"../x".to_vec()),
                        xattrs: Vec::new(),
                    },
                },
            ],
            data_bytes: 42,
        };
        let (loaded, created) = load_plan(&save_plan(&bundle, 77)).expect("loads");
        assert_eq!(created, 77);
        assert_eq!(loaded.data_bytes, 42);
        assert_eq!(loaded.items.len(), 2);
        for (left, right) in loaded.items.iter().zip(&bundle.items) {
            assert_eq!(left.folder, right.folder);
            assert_eq!(left.entry.name, right.entry.name);
            assert_eq!(left.entry.stat, right.entry.stat);
            assert_eq!(left.entry.link_target, right.entry.link_target);
            assert_eq!(left.entry.xattrs, right.entry.xattrs);
        }
        assert!(load_plan(b"garbage").is_none());
    }
}
