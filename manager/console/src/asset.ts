// One asset: identity with its evidence, protocols and roles, peers and the operations seen
// with them, its alerts and vulnerabilities, and a timeline (live while the page is open).

import { assetName, levelName, listAll, rpc, type FleetAlert, type FleetAsset, type FleetConnection } from "./api";
import type { Ctx } from "./app";
import { bytes, facts, h, section, severityBadge, time } from "./dom";

export async function renderAsset(main: HTMLElement, ctx: Ctx, id: string): Promise<() => void> {
  main.replaceChildren(h("p", { class: "muted", role: "status" }, "Loading the asset…"));
  const timeline = h("ol", { class: "timeline" });
  const changes: string[] = [];

  async function load(): Promise<void> {
    const f = await rpc<FleetAsset>("GetAsset", { id });
    const a = f.asset;
    const ips = a.ips ?? [];
    const [conns, mine] = await Promise.all([
      Promise.all(ips.slice(0, 4).map((ip) => listAll<FleetConnection>("ListConnections", "connections", { site: f.site, address: ip }))).then((l) => l.flat()),
      // The alerts raised on it, or from or to one of its addresses.
      listAll<FleetAlert>("ListAlerts", "alerts", { asset: f.id }),
    ]);

    const name = assetName(a);
    document.title = `${name} · otwatch`;
    const identity = facts([
      ["Id", h("code", {}, f.id)],
      ["Site", f.site],
      ["Type", a.device_type],
      ["Purdue level", levelName(a.purdue_level)],
      ["Vendor", a.vendor],
      ["Model", a.model],
      ["Firmware", a.firmware],
      ["OS", a.os],
      ["Serial", a.serial],
      ["Hostname", a.hostname],
      ["Other names", (a.names ?? []).join(", ")],
      ["IP addresses", ips.join(", ")],
      ["MAC addresses", (a.macs ?? []).join(", ")],
      ["VLANs", (a.vlans ?? []).join(", ")],
      ["Traffic", `${a.packets} packets, ${bytes(a.bytes)}`],
      ["Approval", f.shadow ? h("span", { class: "badge warn" }, "shadow: not in the approved inventory") : f.approved ? "approved" : "no approved inventory"],
      ["Seen by", f.seen_by.map((s) => s.sensor_id).join(", ")],
      ["Tags", (f.tags ?? []).map((t) => h("span", { class: "badge" }, t))],
    ]);

    const evidence = table(
      ["Field", "Value", "Source", "First seen"],
      (a.evidence ?? []).map((e) => [e.field, e.value, e.source, time(e.first_seen)]),
      "No evidence recorded.",
    );
    const protocols = table(
      ["Protocol", "Role", "Port"],
      (a.protocols ?? []).map((p) => [p.name, p.role, p.port ? String(p.port) : ""]),
      "No protocols seen.",
    );

    // Peers: the other side of each connection, with what was done between them.
    const seen = new Set<string>();
    const peers = conns
      .filter((c) => {
        const key = `${c.connection.client}|${c.connection.server}|${c.connection.transport}|${c.connection.port}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .sort((x, y) => y.connection.bytes - x.connection.bytes);
    const peerTable = table(
      ["Peer", "This asset is", "Protocol", "Port", "Operations", "Function codes", "Traffic", "Last seen"],
      peers.map(({ connection: c }) => {
        const outgoing = ips.includes(c.client);
        return [
          outgoing ? c.server : c.client,
          outgoing ? "client" : "server",
          c.protocol || c.transport,
          c.port ? String(c.port) : "",
          (c.operations ?? []).join(", "),
          (c.function_codes ?? []).join(", "),
          bytes(c.bytes),
          time(c.last_seen),
        ];
      }),
      "No connections seen.",
    );
    const operations = [...new Set(peers.flatMap((p) => p.connection.operations ?? []))].sort();

    const alertList = mine.length
      ? h(
          "ul",
          { class: "plain" },
          mine.map((x) =>
            h("li", {}, severityBadge(x.alert.severity), " ", h("a", { href: `/alerts/${encodeURIComponent(x.id)}` }, x.alert.title || x.alert.kind), h("span", { class: "muted" }, ` · ${x.state} · ${time(x.alert.last_seen)}`)),
          ),
        )
      : h("p", { class: "muted" }, "No alerts for this asset.");

    const vulns = table(
      ["CVE", "Advisory", "Title", "CVSS", "Severity", "Status", "Fixed in", "KEV"],
      (a.vulnerabilities ?? []).map((v) => [v.cve, v.advisory, v.title, v.cvss ? v.cvss.toFixed(1) : "", v.severity, v.status.replace(/_/g, " "), v.fixed_in, v.kev ? "yes" : ""]),
      "No known vulnerabilities (or no advisories imported).",
    );

    const entries: [string, string][] = [[time(a.first_seen), "first seen"]];
    for (const e of a.evidence ?? []) if (e.first_seen) entries.push([time(e.first_seen), `${e.field} = ${e.value} (${e.source})`]);
    entries.push([time(a.last_seen), "last seen"]);
    entries.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    timeline.replaceChildren(
      ...entries.map(([t, what]) => h("li", {}, h("time", {}, t), " ", what)),
      ...changes.map((c) => h("li", { class: "live" }, c)),
    );

    main.replaceChildren(
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/assets" }, "Inventory"), " / ", name),
      h("div", { class: "page-head" }, h("h1", {}, name), h("span", { class: "muted" }, `${a.device_type || "unknown type"} · ${levelName(a.purdue_level)}`)),
      h(
        "div",
        { class: "grid two" },
        section("Identity", identity),
        section("Timeline", timeline),
      ),
      section("Evidence", evidence),
      h("div", { class: "grid two" }, section("Protocols and roles", protocols), section("Operations seen", operations.length ? h("p", {}, operations.join(", ")) : h("p", { class: "muted" }, "None recorded."))),
      section("Peers", peerTable),
      section("Alerts", alertList),
      section("Vulnerabilities", vulns),
    );
  }

  await load();
  const unsubscribe = ctx.onChange((change) => {
    if (!(change.kind === "asset" && (change.id === id || id.endsWith("/" + change.id)))) return;
    changes.push(`${time(change.at)} changed (live)`);
    load().catch((e) => ctx.flash((e as Error).message));
  });
  return unsubscribe;
}

/** A plain data table; cells are text. */
export function table(head: string[], rows: string[][], empty: string): HTMLElement {
  if (rows.length === 0) return h("p", { class: "muted" }, empty);
  return h(
    "div",
    { class: "scroll" },
    h("table", { class: "data" }, h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))),
  );
}
