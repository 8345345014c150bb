//! The file ids of a segment's hits, read from its `file_id` column.
//!
//! tantivy stores a u64 column whose values rise with the document number, as the file ids
//! do, as a line fitted to each block of 512 documents plus a few bits per value for the
//! distance to the line ("blockwise linear"). Opening such a column decodes the line of
//! every block first: for a segment of a million documents, about 2,000 blocks, 0.27
//! million instructions and a 94 KB table, all at the first hit of a query, where a
//! selective `find` then reads ten values. [`FileIds`] reads that layout itself and
//! decodes the block lines only up to the block of the hit at hand, in one pass, as a
//! collector's hits come in document order. A column it does not recognise (another codec,
//! another layout, a value outside the column's range) is opened by tantivy instead. The
//! tests check every value against tantivy's reader, for the shapes of values an index
//! holds, so a tantivy upgrade that changes the layout fails them rather than `find`. It
//! reads the block lines only as far as it needs, so damage to the column past the last
//! hit's block goes unnoticed where tantivy, decoding them all, would fail to open it;
//! `esker reindex` rebuilds an index in doubt from the catalog.

use tantivy::DocId;
use tantivy::columnar::{Column, DynamicColumnHandle};
use tantivy::directory::OwnedBytes;
use tantivy_bitpacker::BitUnpacker;

/// Documents per block of a blockwise linear column.
const BLOCK_SIZE: u32 = 512;
/// The column index code of a column with exactly one value per document.
const CARDINALITY_FULL: u8 = 0;
/// The codec code of blockwise linear column values.
const CODEC_BLOCKWISE_LINEAR: u8 = 2;

/// A segment's `file_id` column: not opened until its first hit, then read by
/// [`Blockwise`] where it can, by tantivy otherwise.
pub(crate) enum FileIds {
    Closed(DynamicColumnHandle),
    Blockwise(Blockwise, DynamicColumnHandle),
    Open(Column<u64>),
    Failed(String),
}

impl FileIds {
    pub(crate) fn new(handle: DynamicColumnHandle) -> FileIds {
        FileIds::Closed(handle)
    }

    /// The file id of document `doc`; None when the column cannot be read (see
    /// [`FileIds::error`]).
    pub(crate) fn get(&mut self, doc: DocId) -> Option<u64> {
        if let FileIds::Closed(handle) = self {
            *self = match handle.file_slice().read_bytes().map(Blockwise::parse) {
                Ok(Some(blockwise)) => FileIds::Blockwise(blockwise, handle.clone()),
                Ok(None) => Self::open(handle),
                Err(error) => FileIds::Failed(format!("cannot read the file_id column: {error}")),
            };
        }
        match self {
            FileIds::Blockwise(blockwise, handle) => {
                let found = blockwise.get(doc);
                if found.is_none() {
                    // Not the layout it looked like: tantivy decides.
                    *self = Self::open(handle);
                    return self.get(doc);
                }
                found
            }
            FileIds::Open(column) => column.first(doc),
            FileIds::Closed(_) | FileIds::Failed(_) => None,
        }
    }

    /// Why the column could not be read, if it could not.
    pub(crate) fn error(self) -> Option<String> {
        match self {
            FileIds::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// The column opened by tantivy.
    fn open(handle: &DynamicColumnHandle) -> FileIds {
        let opened: std::io::Result<Option<Column<u64>>> = handle.open().map(Into::into);
        match opened {
            Ok(Some(column)) => FileIds::Open(column),
            Ok(None) => FileIds::Failed("the file_id column is not a u64 column".into()),
            Err(error) => FileIds::Failed(format!("cannot open the file_id column: {error}")),
        }
    }
}

/// A block's line: `intercept + (x * slope) >> 32`, in wrapping arithmetic, as tantivy
/// evaluates it.
#[derive(Clone, Copy)]
struct Line {
    slope: u64,
    intercept: u64,
}

impl Line {
    fn eval(self, x: u32) -> u64 {
        let linear = ((u64::from(x).wrapping_mul(self.slope)) >> 32) as i32 as u64;
        self.intercept.wrapping_add(linear)
    }
}

/// One decoded block: its number, line, bit width and where its bits start in `data`.
#[derive(Clone, Copy)]
struct Block {
    number: u32,
    line: Line,
    bits: u8,
    start: usize,
}

/// A blockwise linear u64 column with one value per document, read in place.
///
/// Layout (tantivy-columnar 0.27): the column index (one byte, [`CARDINALITY_FULL`]), the
/// codec byte, the column statistics (variable-length integers: minimum, gcd, amplitude
/// divided by the gcd, number of values), the bit-packed distances of every block, the
/// footer (per block: slope and intercept as variable-length integers, then the bit width
/// as one byte), the footer's length (u32, little-endian), and the column index's length
/// (u32, little-endian).
pub(crate) struct Blockwise {
    bytes: OwnedBytes,
    min: u64,
    max: u64,
    gcd: u64,
    rows: u32,
    data: std::ops::Range<usize>,
    footer: std::ops::Range<usize>,
    /// The next block line the footer pass decodes, where it starts in the footer and where
    /// that block's bits start in `data`.
    next: u32,
    footer_at: usize,
    data_at: usize,
    block: Option<Block>,
}

impl Blockwise {
    /// The column in `bytes`, when it has this layout; None otherwise.
    pub(crate) fn parse(bytes: OwnedBytes) -> Option<Blockwise> {
        let all = bytes.as_slice();
        let body_end = all.len().checked_sub(4)?;
        if u32::from_le_bytes(all[body_end..].try_into().ok()?) != 1 || all.first() != Some(&CARDINALITY_FULL) {
            return None;
        }
        if all.get(1) != Some(&CODEC_BLOCKWISE_LINEAR) {
            return None;
        }
        let mut at = 2;
        let min = vint(&all[..body_end], &mut at)?;
        let gcd = vint(&all[..body_end], &mut at)?;
        let amplitude = vint(&all[..body_end], &mut at)?;
        let rows = u32::try_from(vint(&all[..body_end], &mut at)?).ok()?;
        let max = min.checked_add(amplitude.checked_mul(gcd)?)?;
        let footer_end = body_end.checked_sub(4)?;
        let footer_len = u32::from_le_bytes(all[footer_end..body_end].try_into().ok()?) as usize;
        let footer_start = footer_end.checked_sub(footer_len)?;
        if gcd == 0 || footer_start < at {
            return None;
        }
        Some(Blockwise {
            min,
            max,
            gcd,
            rows,
            data: at..footer_start,
            footer: footer_start..footer_end,
            next: 0,
            footer_at: 0,
            data_at: 0,
            block: None,
            bytes,
        })
    }

    /// The value of row `doc`; None if the column is not what it looked like.
    pub(crate) fn get(&mut self, doc: DocId) -> Option<u64> {
        if doc >= self.rows {
            return None;
        }
        let number = doc / BLOCK_SIZE;
        let block = match self.block {
            Some(block) if block.number == number => block,
            _ => self.seek(number)?,
        };
        let x = doc % BLOCK_SIZE;
        let data = &self.bytes.as_slice()[self.data.clone()];
        let end_bit = (block.start as u64 * 8).checked_add(u64::from(x + 1) * u64::from(block.bits))?;
        if end_bit > data.len() as u64 * 8 {
            return None;
        }
        let distance = BitUnpacker::new(block.bits).get(x, &data[block.start..]);
        let value = self.min.wrapping_add(self.gcd.wrapping_mul(block.line.eval(x).wrapping_add(distance)));
        (self.min..=self.max).contains(&value).then_some(value)
    }

    /// Decodes the footer up to block `number` (from the start again if the pass is past it).
    fn seek(&mut self, number: u32) -> Option<Block> {
        if number < self.next {
            (self.next, self.footer_at, self.data_at) = (0, 0, 0);
        }
        let footer = &self.bytes.as_slice()[self.footer.clone()];
        let mut found = None;
        while self.next <= number {
            // Only the bit widths of the blocks before it count: their lines are skipped.
            let line = if self.next == number {
                let slope = vint(footer, &mut self.footer_at)?;
                let intercept = vint(footer, &mut self.footer_at)?;
                Some(Line { slope, intercept })
            } else {
                skip_line(footer, &mut self.footer_at)?;
                None
            };
            let bits = *footer.get(self.footer_at)?;
            self.footer_at += 1;
            // tantivy's bit unpacker reads 8 bytes at a time: 57 to 63 bits cannot occur.
            if bits > 56 && bits != 64 {
                return None;
            }
            if let Some(line) = line {
                found = Some(Block { number, line, bits, start: self.data_at });
            }
            self.data_at = self.data_at.checked_add(usize::from(bits) * BLOCK_SIZE as usize / 8)?;
            self.next += 1;
        }
        self.block = found;
        found
    }
}

/// A variable-length integer as tantivy writes them: 7 bits a byte, lowest first, the high
/// bit set on the last byte.
fn vint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        // Bits past the 64th are dropped, as tantivy drops them.
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 != 0 {
            return Some(value);
        }
    }
    None
}

/// Moves past a block's line, two variable-length integers: to the byte after the second
/// one with its high bit set, looked for sixteen bytes at a time (a line takes 2 to 20).
#[inline]
fn skip_line(bytes: &[u8], at: &mut usize) -> Option<()> {
    if let Some(window) = bytes.get(*at..*at + 16) {
        let ends = u128::from_le_bytes(window.try_into().ok()?) & (u128::MAX / 255 * 0x80);
        let second = ends & ends.wrapping_sub(1);
        if second != 0 {
            *at += second.trailing_zeros() as usize / 8 + 1;
            return Some(());
        }
    }
    vint(bytes, at)?;
    vint(bytes, at).map(drop)
}

#[cfg(test)]
mod tests {
    use tantivy::columnar::ColumnType;
    use tantivy::schema::{FAST, Schema};
    use tantivy::{Index, TantivyDocument};

    use super::*;

    /// The `file_id` column of a one-segment index whose documents hold `ids`, in order.
    fn column_of(ids: &[u64]) -> DynamicColumnHandle {
        let mut builder = Schema::builder();
        let field = builder.add_u64_field("file_id", FAST);
        let index = Index::create_in_ram(builder.build());
        let mut writer = index.writer_with_num_threads(1, 50_000_000).expect("writer");
        for &id in ids {
            let mut doc = TantivyDocument::default();
            doc.add_u64(field, id);
            writer.add_document(doc).expect("add");
        }
        writer.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        assert_eq!(searcher.segment_readers().len(), 1, "one segment");
        searcher
            .segment_reader(0)
            .fast_fields()
            .dynamic_column_handle("file_id", ColumnType::U64)
            .expect("handle")
            .expect("a u64 column")
    }

    /// A small deterministic generator (xorshift).
    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Every value read in document order, backwards and at random, against tantivy's own
    /// reader; and whether the lean reader was the one that read them.
    fn check(ids: &[u64]) -> bool {
        let handle = column_of(ids);
        let tantivy: Column<u64> = handle.open_u64_lenient().expect("open").expect("u64");
        let lean = Blockwise::parse(handle.file_slice().read_bytes().expect("bytes")).is_some();
        let rows = ids.len() as DocId;
        let mut next = rng(rows as u64 + 1);
        let orders: [Vec<DocId>; 3] = [
            (0..rows).collect(),
            (0..rows).rev().collect(),
            (0..rows).map(|_| (next() % u64::from(rows)) as DocId).collect(),
        ];
        for order in orders {
            let mut ids_read = FileIds::new(handle.clone());
            for doc in order {
                assert_eq!(ids_read.get(doc), tantivy.first(doc), "doc {doc}");
                assert_eq!(ids_read.get(doc), Some(ids[doc as usize]), "doc {doc}");
            }
            assert!(matches!(ids_read, FileIds::Blockwise(..)) == lean, "stayed with the reader it chose");
        }
        lean
    }

    #[test]
    fn rising_ids_with_gaps_are_read_in_place_and_match_tantivy() {
        let mut next = rng(7);
        let mut id = 1000;
        let ids: Vec<u64> = (0..5000)
            .map(|_| {
                id += 1 + if next().is_multiple_of(10) { next() % 40 } else { 0 };
                id
            })
            .collect();
        assert!(check(&ids), "a rising column is blockwise linear and read in place");
    }

    #[test]
    fn runs_of_ids_in_any_order_as_after_a_merge_match_tantivy() {
        // Segments merged in no particular order: rising runs that jump back and forth.
        let runs = [(700_000u64, 1700u64), (5, 1300), (2_000_000, 900), (400_000, 2100)];
        let ids: Vec<u64> = runs.iter().flat_map(|&(start, len)| start..start + len).collect();
        assert!(check(&ids));
        // Ids that fall, and ids that share a gcd.
        assert!(check(&(0..3000u64).rev().map(|i| 10 + i * 3).collect::<Vec<_>>()));
        // One block and a part of one; equal values.
        assert!(check(&(1..=512u64).collect::<Vec<_>>()));
        check(&[42; 700]);
        check(&[9]);
    }

    #[test]
    fn a_column_of_another_codec_is_left_to_tantivy() {
        let mut next = rng(3);
        let ids: Vec<u64> = (0..3000).map(|_| next() >> 20).collect();
        assert!(!check(&ids), "scattered values are bit-packed, which tantivy reads");
    }

    #[test]
    fn variable_length_integers_read_as_tantivy_writes_them() {
        for value in [0u64, 1, 127, 128, 300, 1 << 32, u64::MAX] {
            let mut bytes = Vec::new();
            let mut rest = value;
            loop {
                let low = (rest & 0x7f) as u8;
                rest >>= 7;
                if rest == 0 {
                    bytes.push(low | 0x80);
                    break;
                }
                bytes.push(low);
            }
            let mut at = 0;
            assert_eq!(vint(&bytes, &mut at), Some(value));
            assert_eq!(at, bytes.len());
            assert_eq!(vint(&bytes[..bytes.len() - 1], &mut 0), None, "cut short");
            // Skipped as the first of a line's two, at the end of a buffer and with more
            // after it (a whole window, and not).
            let mut line = bytes.clone();
            line.extend([0x85]);
            for padding in [0, 1, 15, 16] {
                let mut padded = line.clone();
                padded.extend(vec![0x81; padding]);
                let mut at = 0;
                assert_eq!(skip_line(&padded, &mut at), Some(()), "{value} padded by {padding}");
                assert_eq!(at, line.len(), "{value} padded by {padding}");
            }
            assert_eq!(skip_line(&line[..line.len() - 1], &mut 0), None, "cut short");
            // And as the second, after a short and after a long first one: the second's
            // end then lies past the sixteen bytes looked at together.
            for first in [vec![0x81u8], vec![0x7f; 9].into_iter().chain([0x81]).collect()] {
                let mut line = first.clone();
                line.extend(&bytes);
                let mut padded = line.clone();
                padded.extend([0x81; 16]);
                let mut at = 0;
                assert_eq!(skip_line(&padded, &mut at), Some(()), "{value} after {} bytes", first.len());
                assert_eq!(at, line.len(), "{value} after {} bytes", first.len());
            }
        }
    }
}
