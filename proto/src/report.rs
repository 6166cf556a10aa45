//! Helpers of the report messages, as inherent methods of the generated types.

use crate::v1;

impl v1::InventoryReport {
    /// The capture statistics. Prost makes every message field an `Option`; a report always
    /// has statistics, so `None` reads as empty ones (like prost's accessors of optional
    /// scalars, which return the default).
    pub fn stats(&self) -> &v1::CaptureStats {
        static EMPTY: std::sync::LazyLock<v1::CaptureStats> =
            std::sync::LazyLock::new(Default::default);
        self.stats.as_ref().unwrap_or(&EMPTY)
    }

    /// The capture statistics to change, set to empty ones first if there were none.
    pub fn stats_mut(&mut self) -> &mut v1::CaptureStats {
        self.stats.get_or_insert_with(Default::default)
    }
}

impl v1::Asset {
    /// The (segment, VLAN) pairs the asset's addresses can be on: each of its capture segments
    /// with each of its VLANs; (0, 0), the default segment untagged, for what it lists none of.
    pub fn lans(&self) -> Vec<(u32, u32)> {
        let or_zero = |v: &[u32]| if v.is_empty() { vec![0] } else { v.to_vec() };
        let vlans = or_zero(&self.vlans);
        or_zero(&self.segments)
            .into_iter()
            .flat_map(|s| vlans.iter().map(move |&v| (s, v)))
            .collect()
    }
}

impl v1::Connection {
    /// The connection's key, unique in a report and a sensor's upsert key on the link:
    /// `client|server|transport|port`.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.client, self.server, self.transport, self.port
        )
    }
}
