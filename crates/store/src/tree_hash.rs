//! SHA-256 tree hashes, the checksum of the Glacier vault API: SHA-256 over every 1 MiB
//! chunk, then pairs of digests hashed level by level (an odd one out moves up unchanged)
//! until one digest is left. Parts of a multipart upload are power-of-two MiB, so a part's
//! tree hash is a node of the archive's tree and the archive's hash can be built from the
//! parts' hashes alone.

use std::ops::Range;

use sha2::{Digest, Sha256};

/// The leaf size of every tree hash.
pub const CHUNK: u64 = 1 << 20;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Hashes a stream chunk by chunk; [`finish`](TreeHasher::finish) gives the tree hash of
/// everything written.
#[derive(Clone, Default)]
pub struct TreeHasher {
    leaves: Vec<Hash>,
    current: Sha256,
    in_current: u64,
    length: u64,
}

impl TreeHasher {
    pub fn new() -> TreeHasher {
        TreeHasher::default()
    }

    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = (CHUNK - self.in_current) as usize;
            let taken = room.min(data.len());
            self.current.update(&data[..taken]);
            self.in_current += taken as u64;
            self.length += taken as u64;
            data = &data[taken..];
            if self.in_current == CHUNK {
                let full = std::mem::take(&mut self.current);
                self.leaves.push(full.finalize().into());
                self.in_current = 0;
            }
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The tree hash. Empty input hashes like one empty chunk (the SHA-256 of nothing).
    pub fn finish(mut self) -> Hash {
        if self.in_current > 0 || self.leaves.is_empty() {
            self.leaves.push(self.current.finalize().into());
        }
        combine(&self.leaves)
    }
}

/// The tree hash of `data`.
pub fn tree_hash(data: &[u8]) -> Hash {
    let mut hasher = TreeHasher::new();
    hasher.update(data);
    hasher.finish()
}

/// Builds the tree over digests, left to right: pairs are hashed together, an odd last one
/// moves up a level as it is. Leaves give the tree hash; the tree hashes of consecutive
/// power-of-two-MiB parts give the tree hash of the whole.
pub fn combine(nodes: &[Hash]) -> Hash {
    match nodes {
        [] => Sha256::digest([]).into(),
        [single] => *single,
        _ => {
            let mut level = nodes.to_vec();
            while level.len() > 1 {
                level = level
                    .chunks(2)
                    .map(|pair| match pair {
                        [left, right] => {
                            let mut hasher = Sha256::new();
                            hasher.update(left);
                            hasher.update(right);
                            hasher.finalize().into()
                        }
                        [odd] => *odd,
                        _ => unreachable!("chunks(2) yields one or two"),
                    })
                    .collect();
            }
            level[0]
        }
    }
}

/// Lowercase hex, as the API sends tree hashes.
pub fn to_hex(hash: &Hash) -> String {
    hex::encode(hash)
}

/// Whether `range` (bytes) of an object of `size` bytes is MiB aligned: it starts on a
/// MiB boundary and ends on one or at the end of the object. Archive-retrieval ranges
/// must be.
pub fn is_mib_aligned(range: &Range<u64>, size: u64) -> bool {
    range.start < range.end
        && range.end <= size
        && range.start.is_multiple_of(CHUNK)
        && (range.end.is_multiple_of(CHUNK) || range.end == size)
}

/// Whether `range` of an object of `size` bytes is tree-hash aligned: the tree hash built
/// over the range alone is a node of the object's tree. Only for such ranges can a
/// downloaded piece be checked against a tree hash.
pub fn is_tree_hash_aligned(range: &Range<u64>, size: u64) -> bool {
    if !is_mib_aligned(range, size) {
        return false;
    }
    // Nodes of level L cover [j·2^L MiB, min((j+1)·2^L MiB, size)).
    let mut span = CHUNK;
    loop {
        if range.start.is_multiple_of(span) && range.end == (range.start + span).min(size) {
            return true;
        }
        if range.start + span >= size || !range.start.is_multiple_of(span) {
            return false;
        }
        span = span.saturating_mul(2);
    }
}

/// The smallest MiB-aligned range of an object of `size` bytes holding `range`.
pub fn mib_aligned(range: &Range<u64>, size: u64) -> Range<u64> {
    let start = range.start / CHUNK * CHUNK;
    let end = range.end.div_ceil(CHUNK).saturating_mul(CHUNK).min(size);
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MIB: usize = CHUNK as usize;

    fn sha(parts: &[&[u8]]) -> Hash {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        hasher.finalize().into()
    }

    fn data(length: usize) -> Vec<u8> {
        (0..length).map(|index| (index * 31 % 251) as u8).collect()
    }

    /// AWS's "Tree Hash Example 1" (6.5 MB archive in one request): seven leaves, paired
    /// as ((1,2),(3,4)),((5,6),7), the seventh promoted twice.
    #[test]
    fn aws_example_1_six_and_a_half_mib_in_one_request() {
        let archive = data(6 * MIB + MIB / 2);
        let leaves: Vec<Hash> = archive.chunks(MIB).map(|chunk| sha(&[chunk])).collect();
        assert_eq!(leaves.len(), 7);
        let s12 = sha(&[&leaves[0], &leaves[1]]);
        let s34 = sha(&[&leaves[2], &leaves[3]]);
        let s56 = sha(&[&leaves[4], &leaves[5]]);
        let s1234 = sha(&[&s12, &s34]);
        let s567 = sha(&[&s56, &leaves[6]]);
        let root = sha(&[&s1234, &s567]);
        assert_eq!(tree_hash(&archive), root);
        assert_eq!(combine(&leaves), root);
    }

    /// AWS's "Tree Hash Example 2" (the same archive in a multipart upload): each part
    /// request carries its part's tree hash, completion the archive's, and the archive's
    /// tree hash is the tree over the parts' hashes, for any power-of-two part size.
    #[test]
    fn aws_example_2_multipart_parts_combine_to_the_archive_hash() {
        let archive = data(6 * MIB + MIB / 2);
        let whole = tree_hash(&archive);
        for part_size in [MIB, 2 * MIB, 4 * MIB, 8 * MIB] {
            let parts: Vec<Hash> = archive.chunks(part_size).map(tree_hash).collect();
            assert_eq!(combine(&parts), whole, "part size {part_size}");
        }
        // With 4 MiB parts: part 1 is the node over leaves 1-4, part 2 over leaves 5-7.
        let leaves: Vec<Hash> = archive.chunks(MIB).map(|chunk| sha(&[chunk])).collect();
        let first = sha(&[&sha(&[&leaves[0], &leaves[1]]), &sha(&[&leaves[2], &leaves[3]])]);
        let second = sha(&[&sha(&[&leaves[4], &leaves[5]]), &leaves[6]]);
        assert_eq!(tree_hash(&archive[..4 * MIB]), first);
        assert_eq!(tree_hash(&archive[4 * MIB..]), second);
    }

    /// Below one chunk the tree hash is the plain SHA-256 (the computing-checksums page:
    /// the leaves are the SHA-256 of each 1 MB chunk, the last one may be shorter).
    #[test]
    fn small_payloads_hash_as_plain_sha256() {
        assert_eq!(tree_hash(b""), sha(&[b""]));
        assert_eq!(to_hex(&tree_hash(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let small = data(3 * MIB / 10);
        assert_eq!(tree_hash(&small), sha(&[&small]));
        let exact = data(MIB);
        assert_eq!(tree_hash(&exact), sha(&[&exact]));
        // 3.2 MB: three full leaves and a 0.2 MB one.
        let three = data(3 * MIB + MIB / 5);
        let leaves: Vec<Hash> = three.chunks(MIB).map(|chunk| sha(&[chunk])).collect();
        assert_eq!(leaves.len(), 4);
        assert_eq!(tree_hash(&three), sha(&[&sha(&[&leaves[0], &leaves[1]]), &sha(&[&leaves[2], &leaves[3]])]));
    }

    /// "Receiving checksums when downloading data": of two 2 MB ranges of the 6.5 MB
    /// archive, both MiB aligned, only the one matching a tree node is tree-hash aligned.
    #[test]
    fn aws_range_example_which_2_mib_ranges_are_tree_hash_aligned() {
        let size = (6 * MIB + MIB / 2) as u64;
        let m = CHUNK;
        assert!(is_mib_aligned(&(m..3 * m), size));
        assert!(!is_tree_hash_aligned(&(m..3 * m), size), "1-3 MiB spans two subtrees");
        assert!(is_tree_hash_aligned(&(2 * m..4 * m), size), "2-4 MiB is the node over leaves 3 and 4");
        // Every leaf, and the promoted tail, is a node.
        for start in 0..6 {
            assert!(is_tree_hash_aligned(&(start * m..(start + 1) * m), size));
        }
        assert!(is_tree_hash_aligned(&(6 * m..size), size));
        assert!(is_tree_hash_aligned(&(4 * m..size), size), "leaves 5-7 form one node");
        assert!(is_tree_hash_aligned(&(0..size), size));
        assert!(is_tree_hash_aligned(&(0..4 * m), size));
        assert!(!is_tree_hash_aligned(&(0..6 * m), size), "not a node: the root covers 0-6.5");
        assert!(!is_tree_hash_aligned(&(m / 2..m), size), "not MiB aligned");
        assert!(!is_mib_aligned(&(0..m + 1), size));
        assert_eq!(mib_aligned(&(m + 5..2 * m + 1), size), m..3 * m);
        assert_eq!(mib_aligned(&(6 * m + 1..6 * m + 2), size), 6 * m..size);
    }

    proptest! {
        /// A tree-hash-aligned range's own tree hash is a node of the archive's tree: the
        /// archive's hash rebuilt from that node and the leaves around it is unchanged.
        #[test]
        fn aligned_ranges_are_nodes(chunks in 1usize..24, tail in 0usize..3, start in 0usize..24, length in 1usize..24) {
            let size = chunks * 1024 + tail * 100; // 1 KiB "chunks" keep the test fast
            let scale = |n: usize| (n as u64) * CHUNK / 1024;
            let (start, end) = (start.min(chunks), (start + length).min(chunks + usize::from(tail > 0)));
            prop_assume!(start < end);
            let range = scale(start * 1024)..scale(end * 1024).min(scale(size));
            let aligned = is_tree_hash_aligned(&range, scale(size));
            // Brute force: the node set of the tree over `leaves` leaves.
            let leaves = size.div_ceil(1024) as u64;
            let mut nodes = std::collections::HashSet::new();
            let mut span = 1u64;
            while span < leaves * 2 {
                let mut first = 0;
                while first < leaves {
                    nodes.insert((first, (first + span).min(leaves)));
                    first += span;
                }
                span *= 2;
            }
            let as_leaves = (range.start / CHUNK, range.end.div_ceil(CHUNK));
            prop_assert_eq!(aligned, nodes.contains(&as_leaves));
        }

    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn streaming_matches_one_shot(length in 0usize..(3 * MIB), cut in 0usize..(3 * MIB)) {
            let bytes = data(length);
            let cut = cut.min(length);
            let mut hasher = TreeHasher::new();
            hasher.update(&bytes[..cut]);
            hasher.update(&bytes[cut..]);
            prop_assert_eq!(hasher.len(), length as u64);
            let leaves: Vec<Hash> = if bytes.is_empty() { vec![sha(&[b""])] } else { bytes.chunks(MIB).map(|c| sha(&[c])).collect() };
            prop_assert_eq!(hasher.finish(), combine(&leaves));
        }
    }
}
