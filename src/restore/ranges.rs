//! Byte ranges to download from a bundle: each file's data, with neighbours merged into
//! one request when the gap between them is small.

use esker_catalog::FileRecord;

/// Neighbouring files closer than this share a request.
pub const MERGE_GAP: u64 = 256 * 1024;
/// No merged request grows beyond this (single larger files are read in chunks of it).
pub const MAX_REQUEST: u64 = 64 * 1024 * 1024;

/// One download request and the files inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeGroup {
    pub start: u64,
    pub end: u64,
    /// Indexes into the records given to [`plan_ranges`].
    pub files: Vec<usize>,
}

impl RangeGroup {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Groups the data ranges of `records` (regular files with data; empty files need no
/// request) into requests.
pub fn plan_ranges(records: &[FileRecord]) -> Vec<RangeGroup> {
    let mut order: Vec<usize> = (0..records.len())
        .filter(|&index| {
            let file = &records[index].file;
            file.kind == "file" && file.size > 0 && file.data_offset.is_some()
        })
        .collect();
    order.sort_by_key(|&index| records[index].file.data_offset);
    let mut groups: Vec<RangeGroup> = Vec::new();
    for index in order {
        let file = &records[index].file;
        let start = file.data_offset.unwrap_or(0).max(0) as u64;
        let end = start + file.size.max(0) as u64;
        match groups.last_mut() {
            Some(group) if start <= group.end + MERGE_GAP && end.max(group.end) - group.start <= MAX_REQUEST => {
                group.end = group.end.max(end);
                group.files.push(index);
            }
            _ => groups.push(RangeGroup { start, end, files: vec![index] }),
        }
    }
    groups
}

/// Number of GET requests and bytes a set of groups costs (large files read in chunks).
pub fn request_count(groups: &[RangeGroup]) -> (u64, u64) {
    let requests = groups.iter().map(|group| group.len().div_ceil(MAX_REQUEST).max(1)).sum();
    let bytes = groups.iter().map(RangeGroup::len).sum();
    (requests, bytes)
}

/// The bytes of a bundle the records need: from the first file's data to the end of the
/// last one's (`None` when none has data). Stores that restore ranges (vaults) retrieve
/// this span, widened to MiB boundaries.
pub fn data_span(records: &[FileRecord]) -> Option<std::ops::Range<u64>> {
    // Empty files need no bytes: they must not widen the span (the headers between two
    // empty files would otherwise make it non-empty).
    let with_data = records.iter().filter_map(|record| {
        let file = &record.file;
        let start = file.data_offset.filter(|_| file.kind == "file" && file.size > 0)?.max(0) as u64;
        Some(start..start + file.size as u64)
    });
    let start = with_data.clone().map(|range| range.start).min()?;
    let end = with_data.map(|range| range.end).max()?;
    (start < end).then_some(start..end)
}

/// The requests that download `groups` (as the poller makes them: large groups in chunks
/// of [`MAX_REQUEST`]).
pub fn requests(groups: &[RangeGroup]) -> Vec<std::ops::Range<u64>> {
    let mut out = Vec::new();
    for group in groups {
        let mut offset = group.start;
        loop {
            let end = if group.len() > MAX_REQUEST { (offset + MAX_REQUEST).min(group.end) } else { group.end };
            out.push(offset..end);
            offset = end;
            if offset >= group.end {
                break;
            }
        }
    }
    out
}
