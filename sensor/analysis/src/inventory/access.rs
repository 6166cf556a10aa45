//! Address ranges a connection's client read, wrote or commanded, per unit, area and
//! operation, as merged and bounded interval sets.
//!
//! Folding in an access allocates only when a new (unit, area, operation) appears or an
//! interval is added: polling the same registers again is a lookup and a comparison.

use otwatch_common::model::AccessedRanges;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Disjoint intervals kept per (unit, area, operation); accesses that would need more are
/// counted as dropped.
pub const MAX_INTERVALS: usize = 64;
/// (unit, area, operation) combinations kept per connection; accesses to more are counted
/// as dropped in the capture's limits.
pub const MAX_AREAS: usize = 32;

/// Sorted, disjoint, non-adjacent inclusive intervals, at most [`MAX_INTERVALS`].
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeSet {
    pub ranges: Vec<(u32, u32)>,
    /// Accesses not recorded because the set was full.
    pub dropped: u64,
}

impl RangeSet {
    /// Adds `start..=end`, merging it with overlapping and adjacent intervals.
    pub fn insert(&mut self, start: u32, end: u32) {
        let (start, end) = (start.min(end), start.max(end));
        // First interval that ends at or after start - 1 (could touch the new one).
        let i = self
            .ranges
            .partition_point(|&(_, e)| e.saturating_add(1) < start);
        // Intervals from i that begin at or before end + 1 merge with it.
        let j = i + self
            .ranges
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&(s, _)| s <= end.saturating_add(1))
            .count();
        if i == j {
            if self.ranges.len() >= MAX_INTERVALS {
                self.dropped += 1;
                return;
            }
            self.ranges.insert(i, (start, end));
            return;
        }
        let lo = self.ranges.get(i).map_or(start, |r| r.0.min(start));
        let hi = self.ranges.get(j - 1).map_or(end, |r| r.1.max(end));
        if let Some(first) = self.ranges.get_mut(i) {
            *first = (lo, hi);
        }
        if j > i + 1 {
            self.ranges.drain(i + 1..j);
        }
    }

    pub fn merge(&mut self, o: &RangeSet) {
        for &(s, e) in &o.ranges {
            self.insert(s, e);
        }
        self.dropped += o.dropped;
    }

    /// "0-9,100,200-201": each interval as "start-end", or "start" when it is one item.
    pub fn text(&self) -> String {
        let mut t = String::new();
        for (n, &(s, e)) in self.ranges.iter().enumerate() {
            if n > 0 {
                t.push(',');
            }
            // Writing to a String cannot fail.
            let _ = if s == e {
                write!(t, "{s}")
            } else {
                write!(t, "{s}-{e}")
            };
        }
        t
    }
}

/// The ranges of one (unit, area, block, operation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaAccess {
    pub unit: Option<u32>,
    pub area: String,
    pub block: Option<u32>,
    pub op: String,
    pub ranges: RangeSet,
}

impl AreaAccess {
    fn is(&self, unit: Option<u32>, area: &str, block: Option<u32>, op: &str) -> bool {
        self.unit == unit && self.block == block && self.area == area && self.op == op
    }

    /// The area as reported: the name, followed by the block number for numbered areas
    /// ("db1").
    pub fn area_text(&self) -> String {
        match self.block {
            Some(b) => format!("{}{b}", self.area),
            None => self.area.clone(),
        }
    }

    pub fn to_model(&self) -> AccessedRanges {
        AccessedRanges {
            unit: self.unit,
            area: self.area_text(),
            op: self.op.clone(),
            ranges: self.ranges.text(),
            dropped: self.ranges.dropped,
        }
    }
}

/// Every area a connection's client accessed.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accessed {
    /// Sorted by (unit, area, block, op).
    pub areas: Vec<AreaAccess>,
    /// Accesses to areas beyond [`MAX_AREAS`].
    pub dropped: u64,
}

impl Accessed {
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty() && self.dropped == 0
    }

    /// Records `count` items from `start`; a count of 0 accesses nothing.
    pub fn add(
        &mut self,
        unit: Option<u32>,
        area: &str,
        block: Option<u32>,
        op: &str,
        start: u32,
        count: u32,
    ) {
        let Some(last) = count.checked_sub(1) else {
            return;
        };
        let end = start.saturating_add(last);
        let set = |a: &mut AreaAccess| a.ranges.insert(start, end);
        if let Some(a) = self.areas.iter_mut().find(|a| a.is(unit, area, block, op)) {
            set(a);
            return;
        }
        if self.areas.len() >= MAX_AREAS {
            self.dropped += 1;
            return;
        }
        let mut a = AreaAccess {
            unit,
            area: area.to_string(),
            block,
            op: op.to_string(),
            ranges: RangeSet::default(),
        };
        set(&mut a);
        let key = |a: &AreaAccess| (a.unit, a.area.clone(), a.block, a.op.clone());
        let at = self.areas.partition_point(|x| key(x) < key(&a));
        self.areas.insert(at, a);
    }

    pub fn merge(&mut self, o: &Accessed) {
        for a in &o.areas {
            for &(s, e) in &a.ranges.ranges {
                let count = (e - s).saturating_add(1);
                self.add(a.unit, &a.area, a.block, &a.op, s, count);
            }
            if let Some(mine) = self
                .areas
                .iter_mut()
                .find(|x| x.is(a.unit, &a.area, a.block, &a.op))
            {
                mine.ranges.dropped += a.ranges.dropped;
            } else {
                self.dropped += a.ranges.dropped;
            }
        }
        self.dropped += o.dropped;
    }

    /// Accesses not recorded: over the area cap and over each area's interval cap.
    pub fn total_dropped(&self) -> u64 {
        self.dropped + self.areas.iter().map(|a| a.ranges.dropped).sum::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[(u32, u32)]) -> RangeSet {
        let mut s = RangeSet::default();
        for &(a, b) in items {
            s.insert(a, b);
        }
        s
    }

    #[test]
    fn intervals_merge_when_they_overlap_or_touch() {
        assert_eq!(set(&[(0, 9), (10, 19)]).ranges, vec![(0, 19)]);
        assert_eq!(set(&[(10, 19), (0, 9)]).ranges, vec![(0, 19)]);
        assert_eq!(set(&[(0, 9), (20, 29), (5, 25)]).ranges, vec![(0, 29)]);
        assert_eq!(
            set(&[(100, 100), (0, 9), (50, 60), (3, 4)]).ranges,
            vec![(0, 9), (50, 60), (100, 100)]
        );
        assert_eq!(set(&[(0, 0), (2, 2), (1, 1)]).ranges, vec![(0, 2)]);
        assert_eq!(
            set(&[(u32::MAX, u32::MAX), (0, u32::MAX - 1)]).ranges,
            vec![(0, u32::MAX)]
        );
        assert_eq!(set(&[(0, 9), (100, 100), (7, 7)]).text(), "0-9,100");
        assert_eq!(RangeSet::default().text(), "");
    }

    #[test]
    fn the_interval_cap_counts_what_it_drops_but_still_merges() {
        let mut s = RangeSet::default();
        for i in 0..MAX_INTERVALS as u32 + 10 {
            s.insert(i * 10, i * 10);
        }
        assert_eq!(s.ranges.len(), MAX_INTERVALS);
        assert_eq!(s.dropped, 10);
        // Touching an existing interval still widens it.
        s.insert(1, 2);
        assert_eq!(s.ranges.first(), Some(&(0, 2)));
        assert_eq!(s.dropped, 10);
    }

    #[test]
    fn areas_are_sorted_capped_and_merge_like_one_run() {
        let mut a = Accessed::default();
        a.add(Some(1), "holding_registers", None, "write", 100, 1);
        a.add(Some(1), "coils", None, "write", 0, 8);
        a.add(Some(1), "holding_registers", None, "write", 0, 10);
        a.add(Some(1), "holding_registers", None, "read", 0, 0);
        let got: Vec<_> = a.areas.iter().map(AreaAccess::to_model).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].area.as_str(), got[0].ranges.as_str()),
            ("coils", "0-7")
        );
        assert_eq!(got[1].ranges, "0-9,100");
        let mut b = Accessed::default();
        b.add(None, "db", Some(2), "write", 0, 4);
        b.add(Some(1), "coils", None, "write", 8, 1);
        let mut merged = a.clone();
        merged.merge(&b);
        let mut once = a.clone();
        once.add(None, "db", Some(2), "write", 0, 4);
        once.add(Some(1), "coils", None, "write", 8, 1);
        assert_eq!(merged, once);
        assert_eq!(merged.areas[0].area_text(), "db2");
        for i in 0..MAX_AREAS as u32 + 3 {
            merged.add(Some(i), "coils", None, "read", 0, 1);
        }
        assert_eq!(merged.areas.len(), MAX_AREAS);
        assert_eq!(merged.total_dropped(), 6);
    }
}
