// Inventory: every asset of the site (all pages of ListAssets) in one table.

import { assetName, get, listAll, levelName, type FleetAsset, type MapData } from "./api";
import type { Ctx } from "./app";
import { h, time } from "./dom";
import { linkFormatter, makeTable, textFormatter } from "./table";

export interface AssetRow {
  id: string;
  site: string;
  name: string;
  /** Lists joined with ", ": one cell, one CSV field. */
  ips: string;
  macs: string;
  vendor: string;
  model: string;
  firmware: string;
  type: string;
  level: string;
  protocols: string;
  risk: number | null;
  alerts: number | null;
  first_seen: string;
  last_seen: string;
  status: string;
}

export function assetRow(f: FleetAsset, risk?: { risk: number; alerts: number }): AssetRow {
  const a = f.asset;
  return {
    id: f.id,
    site: f.site,
    name: assetName(a),
    ips: (a.ips ?? []).join(", "),
    macs: (a.macs ?? []).join(", "),
    vendor: a.vendor,
    model: a.model,
    firmware: a.firmware,
    type: a.device_type,
    level: levelName(a.purdue_level),
    protocols: [...new Set((a.protocols ?? []).map((p) => p.name))].join(", "),
    risk: risk?.risk ?? null,
    alerts: risk?.alerts ?? null,
    first_seen: time(a.first_seen),
    last_seen: time(a.last_seen),
    status: f.shadow ? "shadow" : f.approved ? "approved" : "",
  };
}

export async function renderInventory(main: HTMLElement, ctx: Ctx): Promise<() => void> {
  const status = h("p", { class: "muted", role: "status" }, "Loading assets…");
  main.replaceChildren(h("div", { class: "page-head" }, h("h1", {}, "Inventory")), status);
  const site = ctx.site();
  const [assets, map] = await Promise.all([
    listAll<FleetAsset>("ListAssets", "assets", { site }),
    get<MapData>(`/api/map?site=${encodeURIComponent(site)}`).catch(() => ({ nodes: [], edges: [] }) as MapData),
  ]);
  const risk = new Map(map.nodes.map((n) => [n.id, { risk: n.risk, alerts: n.alerts }]));
  const rows = assets.map((f) => assetRow(f, risk.get(f.id)));
  const levels = [...new Set(rows.map((r) => r.level))].sort();
  const types = [...new Set(rows.map((r) => r.type).filter(Boolean))].sort();

  const t = makeTable<AssetRow>({
    id: "inventory",
    label: "assets",
    data: rows,
    csvName: `otwatch-assets${site ? "-" + site : ""}.csv`,
    searchFields: ["name", "ips", "macs", "vendor", "model", "firmware", "type", "protocols", "site"],
    onRowClick: (row) => ctx.navigate(`/assets/${encodeURIComponent(row.id)}`),
    columns: [
      { title: "Name", field: "name", headerFilter: "input", formatter: linkFormatter((d) => `/assets/${encodeURIComponent(d.id as string)}`) },
      { title: "IPs", field: "ips", headerFilter: "input", sorter: (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true }) },
      { title: "MAC", field: "macs", headerFilter: "input" },
      { title: "Vendor", field: "vendor", headerFilter: "input" },
      { title: "Model", field: "model", headerFilter: "input" },
      { title: "Firmware", field: "firmware", headerFilter: "input" },
      { title: "Type", field: "type", headerFilter: "list", headerFilterParams: { values: ["", ...types], clearable: true } },
      { title: "Level", field: "level", headerFilter: "list", headerFilterParams: { values: ["", ...levels], clearable: true } },
      { title: "Protocols", field: "protocols", headerFilter: "input", headerSort: false },
      { title: "Site", field: "site", headerFilter: "input" },
      { title: "Risk", field: "risk", sorter: "number", hozAlign: "right", formatter: textFormatter((v) => (v === null ? "" : String(Math.round(v as number)))) },
      { title: "Alerts", field: "alerts", sorter: "number", hozAlign: "right", visible: false },
      { title: "First seen", field: "first_seen" },
      { title: "Last seen", field: "last_seen" },
      { title: "Approval", field: "status", headerFilter: "list", headerFilterParams: { values: ["", "approved", "shadow"], clearable: true } },
    ],
  });
  status.replaceWith(t.el);

  // Live: asset changes reload the table, at most every 3 s.
  let pending: number | undefined;
  const unsubscribe = ctx.onChange((change) => {
    if (change.kind !== "asset" || pending !== undefined) return;
    pending = window.setTimeout(async () => {
      pending = undefined;
      try {
        const fresh = await listAll<FleetAsset>("ListAssets", "assets", { site });
        t.setData(fresh.map((f) => assetRow(f, risk.get(f.id))));
      } catch (e) {
        ctx.flash((e as Error).message);
      }
    }, 3000);
  });
  return () => {
    unsubscribe();
    if (pending !== undefined) clearTimeout(pending);
    t.table.destroy();
  };
}
