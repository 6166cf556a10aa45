// Sensors per site: status, capture mode, drops, backlog, last seen, version, certificate expiry.

import { rpc, type Sensor, type Site } from "./api";
import type { Ctx } from "./app";
import { h, section, time } from "./dom";

export async function renderSensors(main: HTMLElement, ctx: Ctx): Promise<() => void> {
  const body = h("div", {}, h("p", { class: "muted", role: "status" }, "Loading sensors…"));
  main.replaceChildren(h("div", { class: "page-head" }, h("h1", {}, "Sensors and sites")), body);

  async function load(): Promise<void> {
    const site = ctx.site();
    const [sites, sensors] = await Promise.all([rpc<{ sites: Site[] }>("ListSites"), rpc<{ sensors: Sensor[] }>("ListSensors", { site })]);
    const bySite = new Map<string, Sensor[]>();
    for (const s of sensors.sensors ?? []) {
      if (!bySite.has(s.site)) bySite.set(s.site, []);
      bySite.get(s.site)!.push(s);
    }
    const shown = (sites.sites ?? []).filter((s) => !site || s.name === site);
    const now = Date.now();
    body.replaceChildren(
      ...shown.map((s) =>
        section(
          `Site ${s.name}`,
          h("p", { class: "muted" }, `${plural(s.sensors, "sensor")} · ${plural(s.assets, "asset")} · ${plural(s.open_alerts, "open alert")}`),
          h(
            "div",
            { class: "scroll" },
            h(
              "table",
              { class: "data" },
              h("thead", {}, h("tr", {}, ["Sensor", "Host", "Status", "Capture", "Drops", "Backlog", "Last seen", "Version", "Certificate expires", "Assets", "Alerts"].map((c) => h("th", { scope: "col" }, c)))),
              h(
                "tbody",
                {},
                (bySite.get(s.name) ?? []).map((x) => {
                  const expires = Date.parse(x.certificate_not_after);
                  // Sensor certificates are short-lived and renewed: only the last week is a warning.
                  const soon = Number.isFinite(expires) && expires - now < 7 * 86400_000;
                  return h(
                    "tr",
                    {},
                    h("td", {}, h("code", {}, x.id)),
                    h("td", {}, x.hostname),
                    h("td", {}, h("span", { class: `badge status-${x.status}` }, x.status)),
                    h("td", {}, x.capture_mode),
                    h("td", { class: x.drops > 0 ? "num warn-text" : "num" }, String(x.drops)),
                    h("td", { class: x.backlog > 0 ? "num warn-text" : "num" }, String(x.backlog)),
                    h("td", {}, time(x.last_seen)),
                    h("td", {}, x.version),
                    h("td", { class: soon ? "warn-text" : "" }, time(x.certificate_not_after)),
                    h("td", { class: "num" }, String(x.assets)),
                    h("td", { class: "num" }, String(x.alerts)),
                  );
                }),
              ),
            ),
          ),
        ),
      ),
    );
  }
  await load();
  let pending: number | undefined;
  const unsubscribe = ctx.onChange((change) => {
    if (change.kind !== "sensor" || pending !== undefined) return;
    pending = window.setTimeout(() => {
      pending = undefined;
      load().catch((e) => ctx.flash((e as Error).message));
    }, 1000);
  });
  return () => {
    unsubscribe();
    if (pending !== undefined) clearTimeout(pending);
  };
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}
