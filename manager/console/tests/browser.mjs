// Drives the console in Debian's chromium (playwright-core, no browser download) against a running
// manager: login refused and accepted, the map's Purdue rows, filters, an asset, acknowledging an
// alert as analyst and the same refused as viewer, logout, keyboard navigation, CSP and 401s,
// and no console errors anywhere. Exit 0 when every step passes, 1 with the failures otherwise.
//
// Env: OTWATCH_CONSOLE_URL, OTWATCH_TOKEN_VIEWER, OTWATCH_TOKEN_ANALYST, OTWATCH_EXPECT (JSON
// {"assets":[{"id","level","site"}],"alert":"<id>"}), OTWATCH_SCREENSHOTS (optional directory),
// CHROMIUM (default /usr/bin/chromium), CHROMIUM_FLAGS (extra flags).

import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const base = need("OTWATCH_CONSOLE_URL").replace(/\/+$/, "");
const tokens = { viewer: need("OTWATCH_TOKEN_VIEWER"), analyst: need("OTWATCH_TOKEN_ANALYST") };
const expect = JSON.parse(readFileSync(need("OTWATCH_EXPECT"), "utf8"));
const shots = process.env.OTWATCH_SCREENSHOTS || "";
if (shots) mkdirSync(shots, { recursive: true });

const failures = [];
const consoleErrors = [];
let passed = 0;

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`browser test: set ${name}`);
    process.exit(2);
  }
  return v;
}

/** Runs one step; a failure is recorded with the step's name and the run goes on. */
let currentStep = "";

async function step(name, fn, refusals = []) {
  currentStep = name;
  try {
    await expecting(refusals, fn);
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failures.push(`${name}: ${e.message.split("\n")[0]}`);
    console.log(`FAIL ${name}: ${e.message.split("\n")[0]}`);
  }
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

async function shot(page, name) {
  if (!shots) return;
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Refusals a step provokes on purpose (status and path): the browser logs each failed load as a
 * console error, which is then expected rather than a fault. Anything else fails the run. */
let expectedRefusals = [];

async function expecting(refusals, fn) {
  expectedRefusals = refusals;
  try {
    return await fn();
  } finally {
    expectedRefusals = [];
  }
}

function watch(page, label) {
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const failed = /^Failed to load resource: the server responded with a status of (\d+)/.exec(msg.text());
    if (failed) {
      const path = new URL(msg.location().url || page.url(), base).pathname;
      if (expectedRefusals.some(([status, re]) => status === Number(failed[1]) && re.test(path))) return;
    }
    consoleErrors.push(`${label} (${currentStep}) ${page.url()}: ${msg.text()} ${msg.location().url ?? ""}`.trim());
  });
  page.on("pageerror", (err) => consoleErrors.push(`${label} (${currentStep}) ${page.url()}: page error: ${err.message}`));
}

async function login(page, token) {
  await page.goto(`${base}/login`);
  await page.fill("#token", token);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login"), { timeout: 15000 }), page.click("#login-submit")]);
}

/** Status of a same-origin fetch made by the page. */
function fetchStatus(page, path, init = {}) {
  return page.evaluate(async ([p, i]) => (await fetch(p, i)).status, [path, init]);
}

async function alertState(page, id) {
  return page.evaluate(async (alertId) => {
    const s = await (await fetch("/api/session")).json();
    let token = "";
    for (;;) {
      const r = await fetch("/api/v1/ListAlerts", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": s.csrf },
        body: JSON.stringify({ page_size: 1000, page_token: token }),
      });
      const body = await r.json();
      const a = body.alerts.find((x) => x.id === alertId);
      if (a) return a.state;
      token = body.next_page_token;
      if (!token) return null;
    }
  }, id);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--disable-dev-shm-usage",
    ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
    // Extra flags, space-separated (e.g. --disable-http2 to look at HTTP/1.1 behaviour).
    ...(process.env.CHROMIUM_FLAGS ?? "").split(" ").filter(Boolean),
  ],
});
const contextOptions = { ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } };

try {
  // ---- Without a session ----
  const anon = await browser.newContext(contextOptions);
  const page = await anon.newPage();
  watch(page, "[anonymous]");

  await step("security: CSP on the login page has no unsafe-inline", async () => {
    const resp = await page.goto(`${base}/login`);
    const csp = (await resp.allHeaders())["content-security-policy"] ?? "";
    check(csp.includes("script-src"), `no Content-Security-Policy with script-src on /login (got "${csp}")`);
    check(!csp.includes("unsafe-inline"), `CSP allows unsafe-inline: ${csp}`);
    await shot(page, "01-login");
  });

  await step("security: data and action routes answer 401 without a session", async () => {
    const post = { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" };
    for (const [path, init] of [
      ["/api/v1/ListAssets", post],
      ["/api/v1/AcknowledgeAlert", post],
      ["/api/session", {}],
      ["/api/map", {}],
      ["/static/app.js", {}],
    ]) {
      const status = await fetchStatus(page, path, init);
      check(status === 401, `${path} answered ${status}, expected 401`);
    }
  }, [[401, /^\//]]);

  await step("security: / without a session redirects to /login", async () => {
    await page.goto(`${base}/`);
    check(new URL(page.url()).pathname === "/login", `/ ended at ${page.url()}`);
  });

  await step("login with a wrong token is refused, with the message shown", async () => {
    await page.goto(`${base}/login`);
    await page.fill("#token", "otwop1.this-is-not-a-token");
    await page.click("#login-submit");
    const box = page.locator("#login-error");
    await box.waitFor({ state: "visible", timeout: 10000 });
    const text = (await box.textContent()).trim();
    check(text.length > 0, "the error region is empty");
    check(new URL(page.url()).pathname === "/login", `left the login page for ${page.url()}`);
    check((await fetchStatus(page, "/api/session")) === 401, "a session exists after a refused login");
    await shot(page, "02-login-refused");
  }, [[401, /^\/api\/(login|session)$/]]);
  await anon.close();

  // ---- Analyst ----
  const ctxA = await browser.newContext(contextOptions);
  const pa = await ctxA.newPage();
  watch(pa, "[analyst]");

  await step("login as analyst", async () => {
    await login(pa, tokens.analyst);
    const s = await pa.evaluate(async () => (await fetch("/api/session")).json());
    check(s.role === "analyst", `session role is ${s.role}`);
    await pa.locator("#user-name").filter({ hasText: s.name }).waitFor({ timeout: 10000 });
  });

  await step("security: CSP on the app shell has no unsafe-inline", async () => {
    const resp = await pa.goto(`${base}/map`);
    const csp = (await resp.allHeaders())["content-security-policy"] ?? "";
    check(csp.includes("script-src") && !csp.includes("unsafe-inline"), `CSP on / is "${csp}"`);
  });

  await step("map: every expected asset is a node in its Purdue row", async () => {
    await pa.waitForFunction(() => window.__otwatch !== undefined, null, { timeout: 30000 });
    await pa.evaluate(() => window.__otwatch.ready);
    const nodes = await pa.evaluate((ids) => {
      const { graph: g, nodes: assets } = window.__otwatch;
      // Node keys are indices into the map's data.
      const key = new Map(assets.map((a, i) => [a.id, String(i)]));
      return ids.map((id) => {
        const k = key.get(id);
        return k !== undefined && g.hasNode(k) ? { id, level: g.getNodeAttribute(k, "level"), row: g.getNodeAttribute(k, "row"), y: g.getNodeAttribute(k, "y") } : { id, missing: true };
      });
    }, expect.assets.map((a) => a.id));
    const wrong = [];
    for (const [i, n] of nodes.entries()) {
      const want = expect.assets[i].level ?? null;
      if (n.missing) wrong.push(`${n.id} is not on the map`);
      else if ((n.level ?? null) !== want) wrong.push(`${n.id} is at level ${n.level}, expected ${want}`);
      else if (n.row !== (want === null ? -1 : want)) wrong.push(`${n.id} is drawn in row ${n.row}, expected ${want}`);
    }
    // Rows are stacked: every node of a higher level sits above every node of a lower one.
    const byRow = new Map();
    for (const n of nodes.filter((n) => !n.missing)) {
      const r = byRow.get(n.row) ?? { min: Infinity, max: -Infinity };
      r.min = Math.min(r.min, n.y);
      r.max = Math.max(r.max, n.y);
      byRow.set(n.row, r);
    }
    const order = [5, 4, 3, 2, 1, 0, -1].filter((r) => byRow.has(r));
    for (let i = 1; i < order.length; i++) {
      if (!(byRow.get(order[i - 1]).min > byRow.get(order[i]).max)) wrong.push(`row ${order[i - 1]} is not drawn above row ${order[i]}`);
    }
    check(wrong.length === 0, wrong.join("; "));
    await shot(pa, "03-map");
  });

  await step("map: the list view lists every expected asset under its level", async () => {
    await pa.click("#map-list > summary");
    // The list is filled on the details' toggle event, which comes after the click.
    await pa.locator("#map-list section[data-level]").first().waitFor({ timeout: 10000 });
    const wrong = [];
    for (const a of expect.assets) {
      const level = a.level === null || a.level === undefined ? "unknown" : String(a.level);
      const link = pa.locator(`#map-list section[data-level="${level}"] a[data-asset="${a.id.replace(/"/g, '\\"')}"]`);
      if ((await link.count()) !== 1) wrong.push(`${a.id} not listed under level ${level}`);
    }
    check(wrong.length === 0, wrong.join("; "));
  });

  for (const [filter, attr] of [
    ["protocol", "protocols"],
    ["type", "type"],
  ]) {
    await step(`map: filtering by ${filter} changes what is shown`, async () => {
      const total = await pa.evaluate(() => window.__otwatch.graph.order);
      const options = await pa.locator(`#f-${filter} option`).evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
      check(options.length > 0, `no ${filter} to filter by`);
      // The value that leaves the fewest nodes shown but at least one.
      const counts = await pa.evaluate(
        ([values, key]) =>
          values.map((v) => {
            let n = 0;
            for (const a of window.__otwatch.nodes) {
              if (Array.isArray(a[key]) ? a[key].includes(v) : a[key] === v) n++;
            }
            return n;
          }),
        [options, attr],
      );
      const pick = options[counts.indexOf(Math.min(...counts.filter((c) => c > 0)))];
      await pa.selectOption(`#f-${filter}`, pick);
      const shown = await pa.evaluate(
        ([v, key]) => {
          const out = { shown: 0, wrong: 0 };
          const { graph: g, nodes: assets } = window.__otwatch;
          g.forEachNode((node, attrs) => {
            if (attrs.hidden) return;
            out.shown++;
            const a = assets[+node];
            if (!(Array.isArray(a[key]) ? a[key].includes(v) : a[key] === v)) out.wrong++;
          });
          return out;
        },
        [pick, attr],
      );
      check(shown.shown > 0, `${filter}=${pick} shows nothing`);
      check(shown.wrong === 0, `${filter}=${pick} still shows ${shown.wrong} nodes without it`);
      check(shown.shown < total || options.length === 1, `${filter}=${pick} shows all ${total} nodes`);
      const listed = await pa.locator("#map-list a[data-asset]").count();
      check(listed === shown.shown, `the list view shows ${listed} assets, the map ${shown.shown}`);
      if (filter === "type") await shot(pa, "04-map-filtered");
      await pa.click("#map-reset");
      const after = await pa.evaluate(() => {
        let n = 0;
        window.__otwatch.graph.forEachNode((_id, a) => (a.hidden ? 0 : n++));
        return n;
      });
      check(after === total, `reset shows ${after} of ${total}`);
    });
  }

  await step("asset page: open an asset from the list view and see its identity", async () => {
    const a = expect.assets[0];
    await pa.locator(`#map-list a[data-asset="${a.id.replace(/"/g, '\\"')}"]`).click();
    await pa.waitForURL((u) => u.pathname.startsWith("/assets/"), { timeout: 10000 });
    const identity = pa.locator("section[aria-labelledby='s-identity']");
    await identity.waitFor({ timeout: 15000 });
    const text = await identity.textContent();
    check(text.includes(a.id), `the identity does not show the id ${a.id}`);
    check(text.includes(a.site), `the identity does not show the site ${a.site}`);
    await shot(pa, "05-asset");
  });

  await step("inventory: the table lists the assets", async () => {
    await pa.goto(`${base}/assets`);
    await pa.locator("#inventory .tabulator-row").first().waitFor({ timeout: 20000 });
    const ids = await pa.evaluate(() => document.querySelectorAll("#inventory .tabulator-row").length);
    check(ids > 0, "no rows");
    await shot(pa, "06-inventory");
  });

  await step("alerts: the list shows the open alert", async () => {
    await pa.goto(`${base}/alerts`);
    await pa.locator("#alerts .tabulator-row").first().waitFor({ timeout: 20000 });
    await shot(pa, "07-alerts");
  });

  // A second operator (a viewer) keeps the alert list open while the analyst acts: the change
  // must reach that list live, through the Watch stream, without a reload.
  const ctxW = await browser.newContext(contextOptions);
  const pw = await ctxW.newPage();
  watch(pw, "[watcher]");
  const stateInList = (page, id) =>
    page.evaluate((alertId) => {
      const link = document.querySelector(`#alerts a[href="/alerts/${encodeURIComponent(alertId)}"]`);
      return link?.closest(".tabulator-row")?.querySelector('[tabulator-field="state"]')?.textContent?.trim() ?? null;
    }, id);
  await step("alerts: a viewer's alert list is open while the analyst acts", async () => {
    await login(pw, tokens.viewer);
    await pw.goto(`${base}/alerts`);
    await pw.locator("#alerts .tabulator-row").first().waitFor({ timeout: 20000 });
    const state = await stateInList(pw, expect.alert);
    check(state === "new", `the viewer's list shows the alert as ${state}`);
    await pw.evaluate(() => (window.__notReloaded = true));
  });

  await step("alert: acknowledge as analyst", async () => {
    await pa.goto(`${base}/alerts/${encodeURIComponent(expect.alert)}`);
    await pa.locator("#ack").waitFor({ timeout: 15000 });
    await pa.fill("#comment", "checked by the browser test");
    await pa.click("#ack");
    await pa.locator("#alert-state", { hasText: "acknowledged" }).waitFor({ timeout: 10000 });
    check(await pa.locator("#action-error").isHidden(), `error shown: ${await pa.locator("#action-error").textContent()}`);
    const state = await alertState(pa, expect.alert);
    check(state === "acknowledged", `the manager says the alert is ${state}`);
    await shot(pa, "08-alert");
  });

  await step("alerts: the acknowledgement reaches the viewer's open list live", async () => {
    await pw.waitForFunction(
      (alertId) => {
        const link = document.querySelector(`#alerts a[href="/alerts/${encodeURIComponent(alertId)}"]`);
        return link?.closest(".tabulator-row")?.querySelector('[tabulator-field="state"]')?.textContent?.trim() === "acknowledged";
      },
      expect.alert,
      { timeout: 15000, polling: 200 },
    ).catch(() => {});
    const state = await stateInList(pw, expect.alert);
    check(state === "acknowledged", `the viewer's list still shows ${state}`);
    check(await pw.evaluate(() => window.__notReloaded === true), "the viewer's page was reloaded");
    await ctxW.close();
  });

  await step("sensors page", async () => {
    await pa.goto(`${base}/sensors`);
    await pa.locator("main table.data").first().waitFor({ timeout: 15000 });
    await shot(pa, "09-sensors");
  });

  await step("risk page", async () => {
    await pa.goto(`${base}/risk`);
    await pa.locator("main .score-value").first().waitFor({ timeout: 20000 });
    await pa.waitForTimeout(300);
    await shot(pa, "10-risk");
  });

  await step("keyboard: Tab from the top reaches the nav and Enter opens Inventory", async () => {
    await pa.goto(`${base}/map`);
    await pa.waitForFunction(() => window.__otwatch !== undefined, null, { timeout: 30000 });
    await pa.evaluate(() => document.activeElement?.blur());
    const visited = [];
    let found = false;
    for (let i = 0; i < 25 && !found; i++) {
      await pa.keyboard.press("Tab");
      const el = await pa.evaluate(() => {
        const e = document.activeElement;
        return { tag: e?.tagName, text: (e?.textContent ?? "").trim(), nav: e?.closest("nav") !== null };
      });
      visited.push(el.text || el.tag);
      found = el.nav && el.text === "Inventory";
    }
    check(found, `never reached the Inventory link; focus went ${visited.join(" > ")}`);
    check(visited[0] === "Skip to content", `the first Tab stop is "${visited[0]}", not the skip link`);
    await pa.keyboard.press("Enter");
    await pa.waitForURL((u) => u.pathname === "/assets", { timeout: 10000 });
    await pa.locator("#inventory").waitFor({ timeout: 20000 });
  });

  await step("logout ends the session", async () => {
    await pa.click("#logout");
    await pa.waitForURL((u) => u.pathname === "/login", { timeout: 10000 });
    check((await fetchStatus(pa, "/api/session")) === 401, "/api/session still answers after logout");
    await pa.goto(`${base}/`);
    check(new URL(pa.url()).pathname === "/login", `/ after logout ended at ${pa.url()}`);
  }, [[401, /^\/api\/session$/]]);
  await ctxA.close();

  // ---- Viewer ----
  const ctxV = await browser.newContext(contextOptions);
  const pv = await ctxV.newPage();
  watch(pv, "[viewer]");
  await step("viewer: acknowledge and resolve are refused with the manager's message", async () => {
    await login(pv, tokens.viewer);
    const before = await alertState(pv, expect.alert);
    check(before !== null, `the viewer cannot see the alert ${expect.alert}`);
    await pv.goto(`${base}/alerts/${encodeURIComponent(expect.alert)}`);
    await pv.locator("#ack").waitFor({ timeout: 15000 });
    for (const button of ["#ack", "#resolve"]) {
      await pv.locator("#action-error").evaluate((e) => (e.hidden = true));
      await pv.click(button);
      const box = pv.locator("#action-error");
      await box.waitFor({ state: "visible", timeout: 10000 });
      const text = (await box.textContent()).trim();
      check(/viewer|permission|role|denied|not allowed/i.test(text), `${button}: the message "${text}" does not say why`);
    }
    await shot(pv, "11-alert-viewer-refused");
    const after = await alertState(pv, expect.alert);
    check(after === before, `the alert went from ${before} to ${after}`);
  }, [[403, /^\/api\/v1\/(AcknowledgeAlert|ResolveAlert)$/]]);
  await ctxV.close();

  await step("no console errors or page errors", async () => {
    check(consoleErrors.length === 0, `${consoleErrors.length}: ${consoleErrors.join(" | ")}`);
  });
} finally {
  await browser.close();
}

console.log(`${passed} passed, ${failures.length} failed`);
if (failures.length) {
  console.error("\nFailures:\n" + failures.map((f) => `- ${f}`).join("\n"));
  process.exit(1);
}
