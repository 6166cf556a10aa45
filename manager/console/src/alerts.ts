// Alerts: the list with filters and live arrival, and one alert with its evidence and the
// acknowledge/resolve actions (the manager enforces roles; its refusal is shown as it says it).

import { ApiError, listAll, rpc, type FleetAlert } from "./api";
import type { Ctx } from "./app";
import { facts, h, section, severityBadge, time } from "./dom";
import { table } from "./asset";
import { linkFormatter, makeTable, textFormatter } from "./table";

interface AlertRow {
  id: string;
  site: string;
  severity: string;
  kind: string;
  title: string;
  state: string;
  src: string;
  dst: string;
  protocol: string;
  count: number;
  first_seen: string;
  last_seen: string;
  updated_by: string;
}

const SEVERITY_RANK: Record<string, number> = { critical: 5, high: 4, medium: 3, low: 2, info: 1 };

function alertRow(f: FleetAlert): AlertRow {
  const a = f.alert;
  return {
    id: f.id,
    site: f.site,
    severity: a.severity,
    kind: a.kind,
    title: a.title || a.kind,
    state: f.state,
    src: a.src,
    dst: a.dst,
    protocol: a.protocol,
    count: a.count,
    first_seen: time(a.first_seen),
    last_seen: time(a.last_seen),
    updated_by: f.updated_by,
  };
}

export async function renderAlerts(main: HTMLElement, ctx: Ctx): Promise<() => void> {
  const filter = { state: "open", severity: "", kind: "" };
  const stateSel = select("f-state", "Status", [["open", "Open (new or acknowledged)"], ["new", "New"], ["acknowledged", "Acknowledged"], ["resolved", "Resolved"], ["", "All"]]);
  const sevSel = select("f-severity", "Severity", [["", "All"], ["critical", "Critical"], ["high", "High"], ["medium", "Medium"], ["low", "Low"], ["info", "Info"]]);
  const kindSel = select("f-kind", "Kind", [["", "All"]]);
  const status = h("p", { class: "muted", role: "status" }, "Loading alerts…");
  main.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, "Alerts")),
    h("form", { class: "filters", "aria-label": "Alert filters", onsubmit: (e: Event) => e.preventDefault() }, stateSel.label, sevSel.label, kindSel.label),
    status,
  );
  const site = ctx.site();
  const fetchRows = async () => (await listAll<FleetAlert>("ListAlerts", "alerts", { site, ...filter })).map(alertRow);
  let rows = await fetchRows();
  const kinds = new Set(rows.map((r) => r.kind));
  for (const k of [...kinds].sort()) kindSel.el.append(h("option", { value: k }, k));
  const fresh = new Set<string>();

  const t = makeTable<AlertRow>({
    id: "alerts",
    label: "alerts",
    data: rows,
    csvName: `otwatch-alerts${site ? "-" + site : ""}.csv`,
    searchFields: ["title", "kind", "src", "dst", "protocol", "site", "state"],
    onRowClick: (row) => ctx.navigate(`/alerts/${encodeURIComponent(row.id)}`),
    rowFormatter: (row, el) => el.classList.toggle("row-new", fresh.has(row.id)),
    columns: [
      { title: "Severity", field: "severity", sorter: (a: string, b: string) => (SEVERITY_RANK[a] ?? 0) - (SEVERITY_RANK[b] ?? 0), formatter: (c) => severityBadge(String(c.getValue())), headerFilter: "input" },
      { title: "Alert", field: "title", formatter: linkFormatter((d) => `/alerts/${encodeURIComponent(d.id as string)}`), headerFilter: "input" },
      { title: "Kind", field: "kind", headerFilter: "input" },
      { title: "Status", field: "state", headerFilter: "input" },
      { title: "Source", field: "src", headerFilter: "input" },
      { title: "Destination", field: "dst", headerFilter: "input" },
      { title: "Protocol", field: "protocol", headerFilter: "input" },
      { title: "Count", field: "count", sorter: "number", hozAlign: "right", formatter: textFormatter((v) => String(v)) },
      { title: "Site", field: "site", headerFilter: "input" },
      { title: "First seen", field: "first_seen" },
      { title: "Last seen", field: "last_seen" },
      { title: "Updated by", field: "updated_by", visible: false },
    ],
  });
  t.table.on("tableBuilt", () => t.table.setSort("last_seen", "desc"));
  status.replaceWith(t.el);

  async function reload(highlight: boolean): Promise<void> {
    const before = new Set(rows.map((r) => r.id));
    rows = await fetchRows();
    if (highlight) {
      const arrived = rows.filter((r) => !before.has(r.id));
      for (const r of arrived) fresh.add(r.id);
      if (arrived.length) ctx.announce(`${arrived.length} new alert${arrived.length > 1 ? "s" : ""}`);
    }
    t.setData(rows);
  }
  for (const [sel, key] of [[stateSel, "state"], [sevSel, "severity"], [kindSel, "kind"]] as const) {
    sel.el.addEventListener("change", () => {
      filter[key] = sel.el.value;
      reload(false).catch((e) => ctx.flash((e as Error).message));
    });
  }

  let pending: number | undefined;
  const unsubscribe = ctx.onChange((change) => {
    if (change.kind !== "alert" || pending !== undefined) return;
    pending = window.setTimeout(() => {
      pending = undefined;
      reload(true).catch((e) => ctx.flash((e as Error).message));
    }, 500);
  });
  return () => {
    unsubscribe();
    if (pending !== undefined) clearTimeout(pending);
    t.table.destroy();
  };
}

export async function renderAlert(main: HTMLElement, ctx: Ctx, id: string): Promise<() => void> {
  main.replaceChildren(h("p", { class: "muted", role: "status" }, "Loading the alert…"));
  let f = await findAlert(id);
  const result = h("div", { class: "error-box", role: "alert", id: "action-error", hidden: true });
  const done = h("p", { class: "ok", role: "status", id: "action-status" });
  const comment = h("textarea", { id: "comment", rows: 2, placeholder: "Optional: what was done, ticket number…" });
  const ack = h("button", { type: "button", class: "btn primary", id: "ack" }, "Acknowledge");
  const resolve = h("button", { type: "button", class: "btn", id: "resolve" }, "Resolve");
  const stateEl = h("span", { id: "alert-state" });
  const body = h("div");

  async function act(method: "AcknowledgeAlert" | "ResolveAlert"): Promise<void> {
    result.hidden = true;
    done.textContent = "";
    ack.disabled = resolve.disabled = true;
    try {
      f = await rpc<FleetAlert>(method, { id, comment: comment.value.trim() });
      comment.value = "";
      done.textContent = `Alert ${f.state} by ${f.updated_by || ctx.session.name}.`;
      draw();
    } catch (e) {
      result.textContent = e instanceof ApiError ? e.message : `The action failed: ${(e as Error).message}`;
      result.hidden = false;
    } finally {
      ack.disabled = resolve.disabled = false;
    }
  }
  ack.addEventListener("click", () => void act("AcknowledgeAlert"));
  resolve.addEventListener("click", () => void act("ResolveAlert"));

  function draw(): void {
    const a = f.alert;
    stateEl.replaceChildren(h("span", { class: `badge state-${f.state}` }, f.state));
    body.replaceChildren(
      h(
        "div",
        { class: "grid two" },
        section(
          "Alert",
          h("p", {}, a.description),
          facts([
            ["Status", stateEl],
            ["Severity", severityBadge(a.severity)],
            ["Kind", h("code", {}, a.kind)],
            ["Site", f.site],
            ["Sensor", f.sensor_id],
            ["Source", a.src],
            ["Destination", a.dst],
            ["Asset", a.asset ? h("a", { href: `/assets/${encodeURIComponent(`${f.site}/${a.asset}`)}` }, a.asset) : ""],
            ["Protocol", a.protocol],
            ["Occurrences", String(a.count)],
            ["First seen", time(a.first_seen)],
            ["Last seen", time(a.last_seen)],
            ["MITRE ATT&CK for ICS", (a.mitre ?? []).join(", ")],
            ["Last change", f.updated_at ? `${time(f.updated_at)} by ${f.updated_by}` : ""],
          ]),
        ),
        section(
          "Actions",
          ctx.session.role === "viewer" ? h("p", { class: "muted small" }, "Your role (viewer) may not change alerts; the manager will refuse and say why.") : null,
          h("label", { for: "comment" }, "Comment"),
          comment,
          h("div", { class: "actions" }, ack, resolve),
          result,
          done,
        ),
      ),
      section("Evidence", table(["Field", "Value"], (a.evidence ?? []).map((e) => [e.field, e.value]), "No evidence recorded.")),
      section(
        "History",
        table(
          ["When", "Status", "By", "Comment"],
          (f.history ?? []).map((n) => [time(n.at), n.state, n.by, n.comment]),
          "Nobody has changed this alert yet.",
        ),
      ),
    );
  }

  main.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/alerts" }, "Alerts"), " / ", f.alert.title || f.alert.kind),
    h("div", { class: "page-head" }, h("h1", {}, f.alert.title || f.alert.kind)),
    body,
  );
  draw();
  return ctx.onChange((change) => {
    if (change.kind === "alert" && (id === change.id || id.endsWith("/" + change.id))) {
      findAlert(id)
        .then((fresh) => {
          f = fresh;
          draw();
        })
        .catch(() => {});
    }
  });
}

async function findAlert(id: string): Promise<FleetAlert> {
  try {
    return await rpc<FleetAlert>("GetAlert", { id });
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) throw new ApiError(404, "not_found", `No alert ${id}: it may have been removed.`);
    throw e;
  }
}

function select(id: string, label: string, options: [string, string][]): { el: HTMLSelectElement; label: HTMLElement } {
  const el = h("select", { id }, options.map(([v, t]) => h("option", { value: v }, t)));
  return { el, label: h("label", { for: id }, label, el) };
}
