//! A tantivy collector that gathers hits as (file id, score), best first, optionally top-N.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::index::Hit;

/// Ranks by score (highest first), then by file id (lowest first). Unscored collections
/// give every hit score 0, so they come out in file id order.
pub(crate) struct HitCollector {
    pub limit: Option<usize>,
    pub scored: bool,
}

/// A hit ordered so that `a < b` means `a` ranks before `b`.
#[derive(Clone, Copy, Debug)]
struct Ranked(Hit);

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.score.total_cmp(&self.0.score).then(self.0.file_id.cmp(&other.0.file_id))
    }
}

/// The best hits seen so far: all of them, or the top `limit` in a heap whose top is the worst.
enum Best {
    All(Vec<Hit>),
    Top { limit: usize, heap: BinaryHeap<Ranked> },
}

impl Best {
    fn new(limit: Option<usize>) -> Best {
        match limit {
            None => Best::All(Vec::new()),
            Some(limit) => Best::Top { limit, heap: BinaryHeap::with_capacity(limit.min(4096) + 1) },
        }
    }

    fn push(&mut self, hit: Hit) {
        match self {
            Best::All(hits) => hits.push(hit),
            Best::Top { limit, heap } => {
                if heap.len() < *limit {
                    heap.push(Ranked(hit));
                } else if heap.peek().is_some_and(|worst| Ranked(hit) < *worst) {
                    heap.pop();
                    heap.push(Ranked(hit));
                }
            }
        }
    }

    fn into_vec(self) -> Vec<Hit> {
        match self {
            Best::All(hits) => hits,
            Best::Top { heap, .. } => heap.into_iter().map(|ranked| ranked.0).collect(),
        }
    }
}

pub(crate) struct HitSegmentCollector {
    file_ids: Column<u64>,
    scored: bool,
    best: Best,
}

impl Collector for HitCollector {
    type Fruit = Vec<Hit>;
    type Child = HitSegmentCollector;

    fn for_segment(
        &self,
        _segment_ordinal: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<HitSegmentCollector> {
        let file_ids = segment.fast_fields().u64("file_id")?;
        Ok(HitSegmentCollector { file_ids, scored: self.scored, best: Best::new(self.limit) })
    }

    fn requires_scoring(&self) -> bool {
        self.scored
    }

    fn merge_fruits(&self, segment_hits: Vec<Vec<Hit>>) -> tantivy::Result<Vec<Hit>> {
        let mut hits: Vec<Hit> = segment_hits.into_iter().flatten().collect();
        hits.sort_unstable_by_key(|hit| Ranked(*hit));
        if let Some(limit) = self.limit {
            hits.truncate(limit);
        }
        Ok(hits)
    }
}

impl SegmentCollector for HitSegmentCollector {
    type Fruit = Vec<Hit>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if let Some(file_id) = self.file_ids.first(doc) {
            let score = if self.scored { score } else { 0.0 };
            self.best.push(Hit { file_id, score });
        }
    }

    fn harvest(self) -> Vec<Hit> {
        self.best.into_vec()
    }
}
