//! Risk of an OT inventory, computed from facts the sensor and the manager already hold.
//!
//! Everything here is a pure function of its input, so the same inventory always gives the
//! same scores, and every number can be checked by hand from the formulas in [`score`]
//! (also written down in docs/RISK.md). The graph analytics in [`graph`] find the assets whose
//! loss would cut controllers off from the systems that supervise them (articulation points
//! of the communication graph, with what they cut) and the conversations that skip Purdue
//! levels.

#![forbid(unsafe_code)]

pub mod assess;
pub mod graph;
pub mod score;

pub use assess::assess;
pub use graph::{level_skips, single_points_of_failure, Graph, LevelSkip, SinglePointOfFailure};
pub use score::{
    asset_risk, fleet_score, site_score, Band, Exposure, Finding, FindingKind, Role, SiteScore,
};

#[cfg(test)]
mod tests;
