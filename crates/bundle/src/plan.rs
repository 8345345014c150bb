//! Bundle planner: groups crawled entries into bundles under the file-count and size caps.
//!
//! Rules: a bundle holds at most `max_files` entries and `max_size` bytes of file data; a
//! file larger than `max_size` gets a bundle of its own; a folder that fits the caps is
//! never split across bundles; with a group depth, folder units below different ancestors
//! at that depth never share a bundle.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use esker_model::Entry;

/// Bundle caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub max_files: u64,
    pub max_size: u64,
}

/// One entry to store, with the folder it lives in.
#[derive(Debug, Clone)]
pub struct PlanItem {
    pub folder: Arc<PathBuf>,
    pub entry: Entry,
}

impl PlanItem {
    fn size(&self) -> u64 {
        self.entry.stat.size
    }
}

/// A planned bundle: entries in the order they go into the tar.
#[derive(Debug, Default)]
pub struct PlannedBundle {
    pub items: Vec<PlanItem>,
    pub data_bytes: u64,
}

/// Streaming planner: feed folder units in walk order, receive bundles as they fill.
pub struct Planner {
    caps: Caps,
    current: PlannedBundle,
    current_group: Option<PathBuf>,
}

impl Planner {
    pub fn new(caps: Caps) -> Planner {
        let caps = Caps { max_files: caps.max_files.max(1), max_size: caps.max_size.max(1) };
        Planner { caps, current: PlannedBundle::default(), current_group: None }
    }

    /// Adds the entries of one folder. `group` is the folder's group key (see [`group_key`]).
    pub fn push_folder(&mut self, group: &Path, items: Vec<PlanItem>, emit: &mut impl FnMut(PlannedBundle)) {
        if items.is_empty() {
            return;
        }
        if self.current_group.as_deref() != Some(group) {
            self.flush(emit);
            self.current_group = Some(group.to_path_buf());
        }
        let unit_files = items.len() as u64;
        let unit_bytes: u64 = items.iter().map(PlanItem::size).sum();
        let fits_alone = unit_files <= self.caps.max_files && unit_bytes <= self.caps.max_size;
        let fits_here = self.current.items.len() as u64 + unit_files <= self.caps.max_files
            && self.current.data_bytes + unit_bytes <= self.caps.max_size;
        if fits_alone && !fits_here {
            self.flush(emit);
        }
        for item in items {
            let size = item.size();
            if size > self.caps.max_size {
                emit(PlannedBundle { data_bytes: size, items: vec![item] });
                continue;
            }
            if self.current.items.len() as u64 + 1 > self.caps.max_files
                || self.current.data_bytes + size > self.caps.max_size
            {
                self.flush(emit);
            }
            self.current.data_bytes += size;
            self.current.items.push(item);
        }
    }

    /// Emits the last, partly filled bundle.
    pub fn finish(mut self, emit: &mut impl FnMut(PlannedBundle)) {
        self.flush(emit);
    }

    fn flush(&mut self, emit: &mut impl FnMut(PlannedBundle)) {
        if !self.current.items.is_empty() {
            emit(std::mem::take(&mut self.current));
        }
    }
}

/// The group a folder belongs to: with `group_depth` N, its ancestor at depth N below the
/// root (or the folder itself when shallower); without, one group per root.
pub fn group_key(root: &Path, folder: &Path, depth: usize, group_depth: Option<usize>) -> PathBuf {
    match group_depth {
        None => root.to_path_buf(),
        Some(limit) if depth <= limit => folder.to_path_buf(),
        Some(limit) => {
            let mut ancestor = folder;
            for _ in 0..depth - limit {
                ancestor = ancestor.parent().unwrap_or(ancestor);
            }
            ancestor.to_path_buf()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use esker_model::Stat;
    use proptest::prelude::*;

    fn item(folder: &Arc<PathBuf>, name: String, size: u64) -> PlanItem {
        let stat = Stat { size, mode: 0o644, ..Stat::zeroed() };
        PlanItem {
            folder: folder.clone(),
            entry: Entry { name: name.into_bytes(), stat, link_target: None, xattrs: Vec::new() },
        }
    }

    /// Folders as (group, sizes of files).
    fn plan(caps: Caps, folders: &[(u8, Vec<u64>)]) -> (Vec<PlannedBundle>, Vec<Vec<String>>) {
        let mut planner = Planner::new(caps);
        let mut bundles = Vec::new();
        let mut units = Vec::new();
        for (index, (group, sizes)) in folders.iter().enumerate() {
            let folder = Arc::new(PathBuf::from(format!("/g{group}/f{index}")));
            let items: Vec<_> =
                sizes.iter().enumerate().map(|(file, &size)| item(&folder, format!("{index}-{file}"), size)).collect();
            units.push(items.iter().map(|item| String::from_utf8_lossy(&item.entry.name).into_owned()).collect());
            planner.push_folder(Path::new(&format!("/g{group}")), items, &mut |bundle| bundles.push(bundle));
        }
        planner.finish(&mut |bundle| bundles.push(bundle));
        (bundles, units)
    }

    #[test]
    fn big_file_gets_its_own_bundle() {
        let caps = Caps { max_files: 10, max_size: 100 };
        let (bundles, _) = plan(caps, &[(0, vec![10, 500, 20])]);
        let shapes: Vec<Vec<u64>> =
            bundles.iter().map(|bundle| bundle.items.iter().map(|item| item.size()).collect()).collect();
        assert_eq!(shapes, vec![vec![500], vec![10, 20]]);
    }

    #[test]
    fn folder_moves_to_a_fresh_bundle_rather_than_split() {
        let caps = Caps { max_files: 4, max_size: 1000 };
        let (bundles, _) = plan(caps, &[(0, vec![1, 1, 1]), (0, vec![1, 1])]);
        let counts: Vec<usize> = bundles.iter().map(|bundle| bundle.items.len()).collect();
        assert_eq!(counts, vec![3, 2]);
    }

    #[test]
    fn group_key_picks_the_ancestor_at_depth() {
        let root = Path::new("/r");
        assert_eq!(group_key(root, Path::new("/r/a/b/c"), 3, Some(1)), PathBuf::from("/r/a"));
        assert_eq!(group_key(root, Path::new("/r"), 0, Some(1)), PathBuf::from("/r"));
        assert_eq!(group_key(root, Path::new("/r/a/b/c"), 3, None), PathBuf::from("/r"));
    }

    proptest! {
        #[test]
        fn caps_order_and_grouping_hold(
            max_files in 1u64..8,
            max_size in 1u64..200,
            folders in proptest::collection::vec((0u8..3, proptest::collection::vec(0u64..300, 0..12)), 0..20),
        ) {
            let caps = Caps { max_files, max_size };
            let (bundles, units) = plan(caps, &folders);
            // every entry exactly once; inside a bundle, in walk order
            let position: std::collections::HashMap<String, usize> =
                units.iter().flatten().enumerate().map(|(index, name)| (name.clone(), index)).collect();
            let mut planned: Vec<usize> = Vec::new();
            for bundle in &bundles {
                let order: Vec<usize> = bundle.items.iter()
                    .map(|item| position[&String::from_utf8_lossy(&item.entry.name).into_owned()]).collect();
                prop_assert!(order.windows(2).all(|pair| pair[0] < pair[1]));
                planned.extend(order);
            }
            planned.sort_unstable();
            prop_assert_eq!(planned, (0..position.len()).collect::<Vec<_>>());
            for bundle in &bundles {
                prop_assert!(!bundle.items.is_empty());
                prop_assert!(bundle.items.len() as u64 <= max_files);
                let bytes: u64 = bundle.items.iter().map(PlanItem::size).sum();
                prop_assert_eq!(bytes, bundle.data_bytes);
                prop_assert!(bytes <= max_size || bundle.items.len() == 1);
                // one group per bundle
                let groups: std::collections::BTreeSet<_> = bundle.items.iter()
                    .map(|item| item.folder.parent().map(Path::to_path_buf)).collect();
                prop_assert_eq!(groups.len(), 1);
            }
            // a folder whose files all fit the caps (and no oversized file) is in one bundle
            for unit in &units {
                let sizes: Vec<u64> = bundles.iter().flat_map(|bundle| bundle.items.iter())
                    .filter(|item| unit.contains(&String::from_utf8_lossy(&item.entry.name).into_owned()))
                    .map(PlanItem::size).collect();
                if !unit.is_empty() && unit.len() as u64 <= max_files && sizes.iter().sum::<u64>() <= max_size {
                    let holding = bundles.iter().filter(|bundle| bundle.items.iter()
                        .any(|item| unit.contains(&String::from_utf8_lossy(&item.entry.name).into_owned()))).count();
                    prop_assert_eq!(holding, 1);
                }
            }
        }
    }
}
