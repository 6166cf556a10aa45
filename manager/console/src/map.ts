// The asset map: every asset a node in its Purdue row, conversations as edges (width by bytes,
// log scale), colour by risk, rings for internet-connected, single-point-of-failure and shadow
// assets. Drawn with sigma (WebGL) from a graphology graph built in one pass.

import Graph from "graphology";
import Sigma from "sigma";
import { createNodeBorderProgram } from "@sigma/node-border";
import { EdgeLineProgram, EdgeRectangleProgram } from "sigma/rendering";
import { get, levelName, type MapData, type MapNode } from "./api";
import type { Ctx } from "./app";
import { h } from "./dom";
import { layoutByRow, ROWS, type Layout } from "./layout";

declare global {
  interface Window {
    /** For tests and benchmarks: the map's graph (node keys are indices into `nodes`). */
    __otwatch?: { graph: Graph; nodes: MapNode[]; renderer: Sigma; ready: Promise<void> };
  }
}

const RING = { internet: "#1d4ed8", spof: "#111827", shadow: "#c026d3" };
/** Past this many nodes the map switches to its big-graph settings. */
const BIG = 2000;

/** Risk 0-100 to a green - amber - red colour. */
export function riskColour(risk: number): string {
  const stops = [
    [0, [46, 157, 74]],
    [50, [224, 164, 0]],
    [100, [209, 52, 47]],
  ] as const;
  const r = Math.max(0, Math.min(100, risk));
  const [a, b] = r <= 50 ? [stops[0], stops[1]] : [stops[1], stops[2]];
  const t = (r - a[0]) / (b[0] - a[0]);
  const c = a[1].map((v, i) => Math.round(v + (b[1][i] - v) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

interface Filters {
  site: string;
  subnet: string;
  protocol: string;
  type: string;
}

export async function renderMap(main: HTMLElement, ctx: Ctx): Promise<() => void> {
  const filters: Filters = { site: "", subnet: "", protocol: "", type: "" };
  const status = h("p", { class: "muted", role: "status" }, "Loading the map…");
  const container = h("div", { class: "map-canvas", role: "img", "aria-label": "Asset map by Purdue level; the list view below has the same assets" });
  const overlay = h("div", { class: "map-rows", "aria-hidden": "true" });
  const tooltip = h("div", { class: "map-tooltip", role: "tooltip", hidden: true });
  const selects = {
    site: h("select", { id: "f-site" }),
    subnet: h("select", { id: "f-subnet" }),
    protocol: h("select", { id: "f-protocol" }),
    type: h("select", { id: "f-type" }),
  };
  const labels: Record<keyof Filters, string> = { site: "Site", subnet: "Subnet", protocol: "Protocol", type: "Device type" };
  const shown = h("span", { class: "muted", role: "status", id: "map-shown" });
  const listView = h("details", { class: "card list-view", id: "map-list" }, h("summary", {}, "List view"));
  const listBody = h("div", { class: "list-body" });
  listView.append(listBody);

  const filterBar = h(
    "form",
    { class: "filters", "aria-label": "Map filters", onsubmit: (e: Event) => e.preventDefault() },
    ...(Object.keys(selects) as (keyof Filters)[]).map((k) => h("label", { for: selects[k].id }, labels[k], selects[k])),
    h("button", { type: "button", class: "btn", id: "map-reset", onclick: () => reset() }, "Reset filters"),
    h("span", { class: "spacer" }),
    h("button", { type: "button", class: "btn icon", "aria-label": "Zoom in", onclick: () => renderer?.getCamera().animatedZoom({ duration: 200 }) }, "+"),
    h("button", { type: "button", class: "btn icon", "aria-label": "Zoom out", onclick: () => renderer?.getCamera().animatedUnzoom({ duration: 200 }) }, "−"),
    h("button", { type: "button", class: "btn", onclick: () => renderer?.getCamera().animatedReset({ duration: 200 }) }, "Fit"),
  );
  const legend = h(
    "ul",
    { class: "legend", "aria-label": "Legend" },
    h("li", {}, h("span", { class: "swatch risk-low" }), "low risk"),
    h("li", {}, h("span", { class: "swatch risk-medium" }), "medium"),
    h("li", {}, h("span", { class: "swatch risk-high" }), "high"),
    h("li", {}, h("span", { class: "ring ring-internet" }), "internet-connected"),
    h("li", {}, h("span", { class: "ring ring-spof" }), "single point of failure"),
    h("li", {}, h("span", { class: "ring ring-shadow" }), "shadow (not approved)"),
    h("li", {}, h("span", { class: "edge-key" }), "conversation (width: bytes, log)"),
  );
  main.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, "Asset map"), shown),
    filterBar,
    legend,
    status,
    h("div", { class: "map-wrap" }, container, overlay, tooltip),
    listView,
  );

  let renderer: Sigma | undefined;
  let graph: Graph | undefined;
  let layout: Layout | undefined;
  let alive = true;
  /** Shown nodes per row, for the row labels while a filter is set. */
  const shownPerRow = new Map<number, number>();

  const fetchStart = performance.now();
  const data = await get<MapData>(mapPath(ctx.site()));
  performance.measure("map-fetch", { start: fetchStart, end: performance.now() });
  if (!alive) return () => {};

  let mark = performance.now();
  /** What the map knows of each asset, by node key (its index). */
  let nodes = data.nodes;
  /** Each edge's protocols, by edge key (its index). */
  let edgeProtocols = data.edges.map((e) => e.protocols);
  graph = buildGraph(data);
  performance.measure("map-build", { start: mark, end: (mark = performance.now()) });
  layout = layoutByRow(graph);
  performance.measure("map-layout", { start: mark, end: (mark = performance.now()) });
  fillSelect(selects.site, "All sites", data.nodes.map((n) => n.site));
  fillSelect(selects.subnet, "All subnets", data.nodes.map((n) => n.subnet).filter(Boolean));
  fillSelect(selects.protocol, "All protocols", data.nodes.flatMap((n) => n.protocols));
  fillSelect(selects.type, "All types", data.nodes.map((n) => n.type).filter(Boolean));
  for (const key of Object.keys(selects) as (keyof Filters)[]) {
    selects[key].addEventListener("change", () => {
      filters[key] = selects[key].value;
      applyFilters();
    });
  }
  status.remove();

  const big = graph.order > BIG;
  const NodeProgram = createNodeBorderProgram({
    borders: [
      { size: { attribute: "ringInternet", defaultValue: 0 }, color: { value: RING.internet } },
      { size: { attribute: "ringSpof", defaultValue: 0 }, color: { value: RING.spof } },
      { size: { attribute: "ringShadow", defaultValue: 0 }, color: { value: RING.shadow } },
      { size: { fill: true }, color: { attribute: "color" } },
    ],
  });
  renderer = new Sigma(graph, container, {
    defaultNodeType: "bordered",
    nodeProgramClasses: { bordered: NodeProgram },
    // Big graphs draw edges as 1-pixel lines (a quarter of the vertices, no width): the
    // difference between fluid and not on a weak GPU; widths show on smaller maps.
    edgeProgramClasses: { line: big ? EdgeLineProgram : EdgeRectangleProgram },
    defaultEdgeType: "line",
    hideEdgesOnMove: big,
    hideLabelsOnMove: big,
    renderEdgeLabels: false,
    enableEdgeEvents: false,
    labelRenderedSizeThreshold: big ? 9 : 4,
    labelDensity: big ? 0.5 : 1,
    labelFont: "system-ui, sans-serif",
    labelSize: 12,
    // Translucent on big maps, so rows stay readable under 50,000 conversations.
    defaultEdgeColor: big ? "rgba(140,150,165,0.18)" : "#b8c0cc",
    zIndex: false,
    stagePadding: 48,
    // A render that lands after the view left the page (a late live reload) must not throw.
    allowInvalidContainer: true,
    minCameraRatio: 0.02,
    maxCameraRatio: 4,
  });
  performance.measure("map-sigma", { start: mark, end: performance.now() });
  performance.mark("map-drawn");
  const ready = new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
  window.__otwatch = { graph, nodes, renderer, ready };

  renderer.on("afterRender", placeRowLabels);
  placeRowLabels();
  renderer.on("enterNode", ({ node, event }) => {
    const a = nodes[+node];
    const marks = [a.internet && "internet-connected", a.spof && "single point of failure", a.shadow && "shadow"].filter(Boolean);
    tooltip.replaceChildren(
      ...[
      h("strong", {}, graph!.getNodeAttribute(node, "label") as string),
      h("div", {}, `${a.type || "unknown"} · ${levelName(a.level)} · ${a.site}`),
      h("div", {}, [a.vendor, a.model].filter(Boolean).join(" ") || "vendor unknown"),
      h("div", {}, a.ips.join(", ")),
      h("div", {}, `risk ${Math.round(a.risk)} · ${a.alerts} open alerts`),
      a.protocols.length ? h("div", {}, a.protocols.join(", ")) : null,
      marks.length ? h("div", { class: "marks" }, marks.join(" · ")) : null,
      ].filter((x): x is HTMLElement => x !== null),
    );
    tooltip.hidden = false;
    tooltip.style.left = `${event.x + 14}px`;
    tooltip.style.top = `${event.y + 14}px`;
    container.style.cursor = "pointer";
  });
  renderer.on("leaveNode", () => {
    tooltip.hidden = true;
    container.style.cursor = "";
  });
  renderer.on("clickNode", ({ node }) => ctx.navigate(`/assets/${encodeURIComponent(nodes[+node].id)}`));

  listView.addEventListener("toggle", () => {
    if (listView.open) fillList();
  });
  applyFilters();

  // Live: an asset or connection change reloads the map, at most every 5 s.
  let pending: number | undefined;
  const unsubscribe = ctx.onChange((change) => {
    if (change.kind !== "asset" && change.kind !== "connection") return;
    if (pending !== undefined) return;
    pending = window.setTimeout(async () => {
      pending = undefined;
      if (!alive || !graph) return;
      try {
        const fresh = await get<MapData>(mapPath(ctx.site()));
        if (!alive) return;
        const next = buildGraph(fresh);
        layout = layoutByRow(next);
        nodes = fresh.nodes;
        edgeProtocols = fresh.edges.map((e) => e.protocols);
        if (window.__otwatch) window.__otwatch.nodes = nodes;
        graph.clear();
        graph.import(next.export());
        applyFilters();
      } catch (e) {
        ctx.flash((e as Error).message);
      }
    }, 5000);
  });

  function placeRowLabels(): void {
    if (!renderer || !layout) return;
    const children: HTMLElement[] = [];
    for (const band of layout.bands) {
      if (band.count === 0) continue;
      // Bands tile the map: each reaches halfway into the gaps around its row.
      const top = renderer.graphToViewport({ x: 0, y: band.top + layout.gap / 2 }).y;
      const bottom = renderer.graphToViewport({ x: 0, y: band.bottom - layout.gap / 2 }).y;
      const shownHere = shownPerRow.get(band.row) ?? 0;
      const count = shownHere === band.count ? `${band.count}` : `${shownHere} of ${band.count}`;
      const el = h("div", { class: band.row < 0 ? "row-band unknown" : "row-band" }, h("span", {}, `${levelName(band.row < 0 ? null : band.row)} (${count})`));
      // The outer halves of the first and last bands may fall outside the canvas.
      const y0 = Math.max(0, Math.min(top, bottom));
      el.style.top = `${y0}px`;
      el.style.height = `${Math.max(0, Math.max(top, bottom) - y0)}px`;
      children.push(el);
    }
    overlay.replaceChildren(...children);
  }

  function matches(a: MapNode): boolean {
    return (
      (!filters.site || a.site === filters.site) &&
      (!filters.subnet || a.subnet === filters.subnet) &&
      (!filters.type || a.type === filters.type) &&
      (!filters.protocol || a.protocols.includes(filters.protocol))
    );
  }

  function applyFilters(): void {
    if (!graph) return;
    let visible = 0;
    shownPerRow.clear();
    graph.updateEachNodeAttributes(
      (node, a) => {
        a.hidden = !matches(nodes[+node]);
        if (!a.hidden) {
          visible++;
          shownPerRow.set(a.row as number, (shownPerRow.get(a.row as number) ?? 0) + 1);
        }
        return a;
      },
      { attributes: ["hidden"] },
    );
    graph.updateEachEdgeAttributes(
      (edge, a) => {
        a.hidden = filters.protocol !== "" && !(edgeProtocols[+edge] ?? []).includes(filters.protocol);
        return a;
      },
      { attributes: ["hidden"] },
    );
    shown.textContent = `${visible} of ${graph.order} assets shown, ${graph.size} conversations`;
    placeRowLabels();
    if (listView.open) fillList();
  }

  function reset(): void {
    for (const key of Object.keys(selects) as (keyof Filters)[]) {
      filters[key] = "";
      selects[key].value = "";
    }
    applyFilters();
  }

  /** The accessible list: one link per shown asset, grouped by Purdue row. */
  function fillList(): void {
    if (!graph) return;
    const byRow = new Map<number, [string, string][]>();
    graph.forEachNode((node, a) => {
      if (a.hidden) return;
      const row = a.row as number;
      if (!byRow.has(row)) byRow.set(row, []);
      byRow.get(row)!.push([nodes[+node].id, a.label as string]);
    });
    const groups: HTMLElement[] = [];
    for (const row of ROWS) {
      const items = byRow.get(row);
      if (!items?.length) continue;
      items.sort((x, y) => (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
      const id = `list-row-${row < 0 ? "unknown" : row}`;
      groups.push(
        h(
          "section",
          { class: "list-row", "aria-labelledby": id, "data-level": row < 0 ? "unknown" : row },
          h("h3", { id }, `${levelName(row < 0 ? null : row)} (${items.length})`),
          h("ul", {}, items.map(([node, label]) => h("li", {}, h("a", { href: `/assets/${encodeURIComponent(node)}`, "data-asset": node }, label)))),
        ),
      );
    }
    listBody.replaceChildren(...groups);
  }

  return () => {
    alive = false;
    unsubscribe();
    if (pending !== undefined) clearTimeout(pending);
    renderer?.kill();
    if (window.__otwatch?.renderer === renderer) delete window.__otwatch;
  };
}

/** The map's data in `/api/map` for a site ("" for the fleet). */
export function mapPath(site: string): string {
  return `/api/map?site=${encodeURIComponent(site)}`;
}

/**
 * The graph in one pass. Node and edge keys are their indices in `data` (numbers as keys make
 * 50,000 edges several times faster to add and to draw than ids); the graph holds only what
 * sigma draws and the layout reads, the rest of an asset stays in `data.nodes`.
 */
export function buildGraph(data: MapData): Graph {
  const graph = new Graph({ type: "undirected", multi: false, allowSelfLoops: false });
  const size = data.nodes.length > BIG ? 2.5 : 9;
  data.nodes.forEach((n: MapNode, i) => {
    graph.addNode(String(i), {
      // A label that is the fleet id says its site twice (the row tooltip has it): drop it.
      label: (n.label || n.ips[0] || n.id).replace(`${n.site}/`, ""),
      // "type" is sigma's program name.
      type: "bordered",
      level: n.level ?? null,
      row: n.level === null || n.level === undefined ? -1 : n.level,
      subnet: n.subnet,
      color: riskColour(n.risk),
      size,
      ringInternet: n.internet ? 0.3 : 0,
      ringSpof: n.spof ? 0.25 : 0,
      ringShadow: n.shadow ? 0.25 : 0,
      x: 0,
      y: 0,
    });
  });
  const order = data.nodes.length;
  data.edges.forEach((e, i) => {
    const { source, target } = e;
    if (source === target || !(source >= 0 && source < order && target >= 0 && target < order)) return;
    const s = String(source);
    const t = String(target);
    try {
      graph.addEdgeWithKey(String(i), s, t, { bytes: e.bytes, size: edgeWidth(e.bytes), weight: Math.log10(1 + e.bytes) });
    } catch {
      // The manager sends one edge per pair; should a pair come twice, its traffic adds up.
      const a = graph.getEdgeAttributes(graph.edge(s, t)!);
      a.bytes = (a.bytes as number) + e.bytes;
      a.size = edgeWidth(a.bytes as number);
      a.weight = Math.log10(1 + (a.bytes as number));
    }
  });
  return graph;
}

/** Edge width in pixels: 0.5 for a handshake, about 4 for gigabytes. */
function edgeWidth(bytes: number): number {
  return Math.min(5, 0.5 + Math.log10(1 + bytes) / 2.5);
}

function fillSelect(select: HTMLSelectElement, all: string, values: string[]): void {
  const distinct = [...new Set(values)].sort();
  select.replaceChildren(h("option", { value: "" }, all), ...distinct.map((v) => h("option", { value: v }, v)));
}
