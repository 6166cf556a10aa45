// Risk: security score and band (site or fleet), the trend, ranked remediations, internet
// exposure, single points of failure, shadow devices, and the report downloads.

import uPlot from "uplot";
import { rpc, type RiskAssessment, type Site } from "./api";
import type { Ctx } from "./app";
import { h, section } from "./dom";
import { table } from "./asset";

export async function renderRisk(main: HTMLElement, ctx: Ctx): Promise<() => void> {
  main.replaceChildren(h("p", { class: "muted", role: "status" }, "Assessing risk…"));
  const site = ctx.site();
  const [risk, sites] = await Promise.all([rpc<RiskAssessment>("GetRisk", { site }), rpc<{ sites: Site[] }>("ListSites")]);
  const perSite = site ? [] : await Promise.all((sites.sites ?? []).map((s) => rpc<RiskAssessment>("GetRisk", { site: s.name })));

  const chart = h("div", { class: "trend", "aria-label": "Security score per day" });
  const link = (s: string, format: string) =>
    h("a", { class: "btn", href: `/api/report?site=${encodeURIComponent(s)}&format=${format}`, download: "" }, `${format.toUpperCase()} report${s ? ` (${s})` : ""}`);
  const reportSites = site ? [site] : (sites.sites ?? []).map((s) => s.name);

  main.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, `Risk${site ? ` · ${site}` : " · fleet"}`)),
    h(
      "div",
      { class: "grid scores" },
      score(site || "Fleet", risk),
      ...perSite.map((r) => score(r.site, r)),
    ),
    section("Trend", risk.trend?.length ? chart : h("p", { class: "muted" }, "No scores recorded yet.")),
    section(
      "Remediation, most risk reduced first",
      table(
        ["#", "Asset", "Action", "CVEs", "Max CVSS", "Risk reduced"],
        (risk.remediations ?? []).map((r, i) => [String(i + 1), r.name || r.asset, r.action, r.cves.join(", "), r.max_cvss.toFixed(1), r.risk_reduced.toFixed(1)]),
        "Nothing to remediate.",
      ),
    ),
    h(
      "div",
      { class: "grid two" },
      section("Internet exposure", table(["Asset", "Remote addresses"], (risk.internet ?? []).map((x) => [x.name || x.asset, x.remote.join(", ")]), "No asset talked to the internet.")),
      section(
        "Single points of failure",
        table(["Asset", "Controllers cut", "Cut from"], (risk.single_points_of_failure ?? []).map((x) => [x.name || x.asset, x.cut_controllers.join(", "), x.cut_from.join(", ")]), "None found."),
      ),
    ),
    h(
      "div",
      { class: "grid two" },
      section(
        "Shadow devices",
        table(["Asset", "Type", "Vendor", "Model", "First seen"], (risk.shadow_devices ?? []).map((x) => [x.name || x.asset, x.device_type, x.vendor, x.model, x.first_seen]), "No shadow devices."),
        risk.unapproved_sites?.length ? h("p", { class: "muted small" }, `Without an approved inventory: ${risk.unapproved_sites.join(", ")}.`) : null,
      ),
      section("Level skips", table(["Enterprise (L4-5)", "Field (L0-1)"], (risk.level_skips ?? []).map((x) => [x.enterprise, x.field]), "No conversation skips the levels between.")),
    ),
    section("Riskiest assets", table(["Asset", "Risk", "Role", "Exposure", "Findings"], (risk.assets ?? []).slice(0, 50).map((x) => [x.name || x.asset, x.risk.toFixed(1), x.role, x.exposure, x.findings.map((f) => f.detail).join("; ")]), "No asset has findings.")),
    section("Reports", h("div", { class: "actions" }, reportSites.flatMap((s) => [link(s, "html"), link(s, "json")]))),
  );

  let plot: uPlot | undefined;
  if (risk.trend?.length) {
    const xs = risk.trend.map((p) => Date.parse(p.date + "T00:00:00Z") / 1000);
    const ys = risk.trend.map((p) => p.security_score);
    plot = new uPlot(
      {
        width: Math.max(320, chart.clientWidth || 800),
        height: 220,
        // A day of margin each side: a single day's score is a point in the middle, not a
        // range of years.
        scales: { x: { time: true, range: [xs[0] - 86400, xs[xs.length - 1] + 86400] }, y: { range: [0, 100] } },
        series: [{}, { label: "Security score", stroke: "#1d4ed8", width: 2, fill: "rgba(29,78,216,0.08)", points: { show: true, size: 6 } }],
        axes: [{}, { label: "score" }],
        legend: { show: true },
      },
      [xs, ys],
      chart,
    );
  }
  return () => plot?.destroy();
}

function score(name: string, r: RiskAssessment): HTMLElement {
  return h(
    "section",
    { class: `card score band-${r.band}`, "aria-label": `${name} security score` },
    h("h2", {}, name),
    h("p", { class: "score-value" }, String(r.security_score)),
    h("p", { class: "score-band" }, r.band),
  );
}
