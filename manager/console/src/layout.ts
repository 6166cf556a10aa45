// Places the map's nodes: y by Purdue row (5 at the top .. 0, unknown apart at the bottom), x by
// the group of assets that talk to each other (Louvain communities, graphology's implementation),
// so conversations stay short inside a row. Deterministic for a given graph; no force layout.

import type Graph from "graphology";
import louvain from "graphology-communities-louvain";

/** Row order from top to bottom; -1 is "unknown level". */
export const ROWS: readonly number[] = [5, 4, 3, 2, 1, 0, -1];

export interface RowBand {
  row: number;
  /** Graph y of the band's top and bottom edges (y grows upwards in sigma). */
  top: number;
  bottom: number;
  count: number;
}

export interface Layout {
  bands: RowBand[];
  width: number;
  /** Graph units between two rows. */
  gap: number;
}

/** Graph units between two neighbours in a line and two lines of a row. */
const STEP = 1;

export function layoutByRow(graph: Graph): Layout {
  // Louvain on the whole graph (cross-row talk groups too); a graph without edges is one group.
  let communities: Record<string, number> = {};
  if (graph.size > 0) {
    // No random walk: the same graph gives the same groups on every load.
    communities = louvain(graph, { getEdgeWeight: "weight", randomWalk: false });
  }

  const rows = new Map<number, string[]>();
  for (const row of ROWS) rows.set(row, []);
  graph.forEachNode((node, attrs) => rows.get(attrs.row as number)!.push(node));

  const total = graph.order;
  // Nodes per line: rows wrap into several lines so a row of 5,000 stays on screen; about
  // sqrt(2 n) per line keeps a big map about twice as wide as high, and at least 10 leaves
  // room for the labels (addresses) of a small one.
  const perLine = Math.max(10, Math.ceil(Math.sqrt(2 * total)));
  const used = ROWS.filter((row) => rows.get(row)!.length > 0);
  const linesOf = (row: number) => Math.max(1, Math.ceil(rows.get(row)!.length / perLine));
  const widest = Math.min(perLine, Math.max(1, ...used.map((row) => rows.get(row)!.length)));
  const rowGap = Math.max(2 * STEP, perLine / 30);
  const height = used.reduce((sum, row) => sum + linesOf(row) * STEP, 0) + rowGap * Math.max(0, used.length - 1);
  // Spread x so the map is about twice as wide as high, whatever the number of nodes.
  const xStep = Math.max(STEP, (2 * height) / Math.max(1, widest - 1));

  const bands: RowBand[] = [];
  let y = 0;
  for (const row of used) {
    const nodes = rows.get(row)!;
    // Bigger groups first, then by group, subnet and label so the order is stable.
    const size = new Map<number, number>();
    for (const n of nodes) size.set(communities[n] ?? 0, (size.get(communities[n] ?? 0) ?? 0) + 1);
    nodes.sort((a, b) => {
      const ca = communities[a] ?? 0;
      const cb = communities[b] ?? 0;
      if (ca !== cb) return size.get(cb)! - size.get(ca)! || ca - cb;
      const sa = graph.getNodeAttribute(a, "subnet") as string;
      const sb = graph.getNodeAttribute(b, "subnet") as string;
      if (sa !== sb) return sa < sb ? -1 : 1;
      const la = graph.getNodeAttribute(a, "label") as string;
      const lb = graph.getNodeAttribute(b, "label") as string;
      return la < lb ? -1 : la > lb ? 1 : a < b ? -1 : 1;
    });
    const top = y;
    nodes.forEach((node, i) => {
      const line = Math.floor(i / perLine);
      const inLine = Math.min(perLine, nodes.length - line * perLine);
      const x = ((i % perLine) - (inLine - 1) / 2) * xStep;
      graph.mergeNodeAttributes(node, { x, y: top - (line + 0.5) * STEP, community: communities[node] ?? 0 });
    });
    const bottom = top - linesOf(row) * STEP;
    bands.push({ row, top, bottom, count: nodes.length });
    y = bottom - rowGap;
  }
  return { bands, width: (widest - 1) * xStep, gap: rowGap };
}
