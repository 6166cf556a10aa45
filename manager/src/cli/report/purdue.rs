//! The Purdue map of a site as inline SVG: one row per level (5 at the top down to 0, then
//! "unknown"), each asset a node in its row, lines for the conversations between assets.
//!
//! The layout depends on nothing but its input: within a row the riskiest assets come first
//! (then by id), at most [`PER_ROW`] of them are drawn and the row says how many more there
//! are; at most [`MAX_EDGES`] lines are drawn, in id order. A plant with thousands of devices
//! still gives a map that fits on a page, and the tables of the report list everything.

use super::text::{coord, cut, esc, risk_class};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

/// Nodes drawn per row.
pub const PER_ROW: usize = 10;
/// Lines drawn per map.
pub const MAX_EDGES: usize = 150;

pub const WIDTH: f64 = 1000.0;
const LABEL_W: f64 = 120.0;
const MORE_W: f64 = 70.0;
const ROW_H: f64 = 62.0;
const TOP: f64 = 8.0;

/// The rows, top to bottom: a level (`None`: unknown) and its label.
pub const ROWS: [(Option<u32>, &str); 7] = [
    (Some(5), "L5 enterprise"),
    (Some(4), "L4 business"),
    (Some(3), "L3 operations"),
    (Some(2), "L2 supervisory"),
    (Some(1), "L1 control"),
    (Some(0), "L0 process"),
    (None, "unknown"),
];

/// An asset as the map shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Node {
    pub id: String,
    /// The text under the node (host name, else address).
    pub label: String,
    /// What a viewer sees on hovering: name, type, vendor, risk.
    pub title: String,
    pub level: Option<u32>,
    pub risk: f64,
    pub internet: bool,
    pub shadow: bool,
    pub spof: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub label: &'static str,
    /// The row's centre line.
    pub y: f64,
    pub total: usize,
    pub shown: usize,
}

/// A drawn node: its index in the input, and its centre.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub node: usize,
    pub x: f64,
    pub y: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub height: f64,
    pub rows: Vec<Row>,
    pub placed: Vec<Placed>,
    /// Lines between drawn nodes, as indexes into `placed`.
    pub edges: Vec<(usize, usize)>,
    /// Conversations not drawn (an end not drawn, or over [`MAX_EDGES`]).
    pub edges_hidden: usize,
}

/// The row of a level: 5 is row 0, 0 is row 5, unknown (or a level above 5) row 6.
pub fn row_of(level: Option<u32>) -> usize {
    match level {
        Some(l) if l <= 5 => 5 - l as usize,
        _ => 6,
    }
}

/// The x of the `j`-th node of a row.
pub fn column_x(j: usize) -> f64 {
    let col = (WIDTH - LABEL_W - MORE_W) / PER_ROW as f64;
    LABEL_W + col * (j as f64 + 0.5)
}

/// Places `nodes` and the conversations `edges` (pairs of node ids; unknown ids, self loops and
/// repeats are left out).
pub fn layout(nodes: &[Node], edges: &[(String, String)]) -> Layout {
    let mut by_row: Vec<Vec<usize>> = vec![Vec::new(); ROWS.len()];
    for (i, n) in nodes.iter().enumerate() {
        by_row[row_of(n.level)].push(i);
    }
    let mut rows = Vec::with_capacity(ROWS.len());
    let mut placed = Vec::new();
    for (r, members) in by_row.iter_mut().enumerate() {
        members.sort_by(|&a, &b| {
            nodes[b]
                .risk
                .total_cmp(&nodes[a].risk)
                .then_with(|| nodes[a].id.cmp(&nodes[b].id))
        });
        let y = TOP + ROW_H * (r as f64 + 0.5);
        let shown = members.len().min(PER_ROW);
        for (j, &i) in members.iter().take(shown).enumerate() {
            placed.push(Placed {
                node: i,
                x: column_x(j),
                y,
            });
        }
        rows.push(Row {
            label: ROWS[r].1,
            y,
            total: members.len(),
            shown,
        });
    }
    let at: HashMap<&str, usize> = placed
        .iter()
        .enumerate()
        .map(|(p, pl)| (nodes[pl.node].id.as_str(), p))
        .collect();
    let known: BTreeSet<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    // Each conversation once, whichever side started it, in id order.
    let pairs: BTreeSet<(&str, &str)> = edges
        .iter()
        .filter(|(a, b)| a != b && known.contains(a.as_str()) && known.contains(b.as_str()))
        .map(|(a, b)| (a.min(b).as_str(), a.max(b).as_str()))
        .collect();
    let drawable: Vec<(usize, usize)> = pairs
        .iter()
        .filter_map(|(a, b)| Some((*at.get(a)?, *at.get(b)?)))
        .take(MAX_EDGES)
        .collect();
    Layout {
        height: TOP * 2.0 + ROW_H * ROWS.len() as f64,
        rows,
        edges_hidden: pairs.len() - drawable.len(),
        edges: drawable,
        placed,
    }
}

/// The map of `nodes` laid out as `l`, as an SVG element.
pub fn svg(nodes: &[Node], l: &Layout) -> String {
    let mut s = format!(
        r#"<svg class="map" viewBox="0 0 {WIDTH} {h}" width="{WIDTH}" height="{h}" role="img" aria-label="Purdue map">"#,
        h = coord(l.height)
    );
    for (r, row) in l.rows.iter().enumerate() {
        let top = row.y - ROW_H / 2.0;
        let shade = if r % 2 == 0 { "#f5f7f8" } else { "#ffffff" };
        let _ = write!(
            s,
            r##"<rect x="0" y="{}" width="{WIDTH}" height="{ROW_H}" fill="{shade}"/><text x="8" y="{}" font-size="13" font-weight="bold" fill="#37474f">{}</text><text x="8" y="{}" font-size="11" fill="#78909c">{}</text>"##,
            coord(top),
            coord(row.y - 2.0),
            row.label,
            coord(row.y + 12.0),
            if row.total == 1 {
                "1 asset".to_string()
            } else {
                format!("{} assets", row.total)
            }
        );
        if row.total > row.shown {
            let _ = write!(
                s,
                r##"<text x="{}" y="{}" font-size="12" fill="#37474f">+{} more</text>"##,
                coord(WIDTH - MORE_W + 6.0),
                coord(row.y + 4.0),
                row.total - row.shown
            );
        }
    }
    for &(a, b) in &l.edges {
        let (pa, pb) = (&l.placed[a], &l.placed[b]);
        if pa.y == pb.y {
            // Same row: an arc above the row, so the line does not run through the nodes
            // between the two.
            let _ = write!(
                s,
                r##"<path d="M{} {} Q{} {} {} {}" fill="none" stroke="#607d8b" stroke-opacity="0.55" stroke-width="1"/>"##,
                coord(pa.x),
                coord(pa.y),
                coord((pa.x + pb.x) / 2.0),
                coord(pa.y - ROW_H * 0.55),
                coord(pb.x),
                coord(pb.y)
            );
        } else {
            let _ = write!(
                s,
                r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#607d8b" stroke-opacity="0.55" stroke-width="1"/>"##,
                coord(pa.x),
                coord(pa.y),
                coord(pb.x),
                coord(pb.y)
            );
        }
    }
    for p in &l.placed {
        node_svg(&mut s, &nodes[p.node], p.x, p.y);
    }
    s.push_str("</svg>");
    s
}

/// One node: a circle coloured by risk; a blue ring when it talks to the internet, a dashed
/// outline when it is a shadow device, a black diamond when it is a single point of failure.
fn node_svg(s: &mut String, n: &Node, x: f64, y: f64) {
    let (cx, cy) = (coord(x), coord(y - 6.0));
    let _ = write!(s, "<g><title>{}</title>", esc(&n.title));
    if n.internet {
        let _ = write!(
            s,
            r##"<circle cx="{cx}" cy="{cy}" r="13" fill="none" stroke="#1565c0" stroke-width="2.5"/>"##
        );
    }
    let dash = if n.shadow {
        r#" stroke-dasharray="3 2""#
    } else {
        ""
    };
    let _ = write!(
        s,
        r##"<circle cx="{cx}" cy="{cy}" r="9" fill="{}" stroke="#263238" stroke-width="1.2"{dash}/>"##,
        risk_class(n.risk).1
    );
    if n.spof {
        let _ = write!(
            s,
            r##"<path d="M{} {} l5 5 l-5 5 l-5 -5 z" fill="#000"/>"##,
            coord(x + 11.0),
            coord(y - 22.0)
        );
    }
    let _ = write!(
        s,
        r##"<text x="{cx}" y="{}" font-size="11" text-anchor="middle" fill="#263238">{}</text></g>"##,
        coord(y + 19.0),
        esc(&cut(&n.label, 13))
    );
}
