// The console's shell: session, header (site, nav, user), client-side routing with
// history.pushState, the Watch event stream, and the views.

import { ApiError, logout, prefetch, rpc, session, type Change, type Session, type Site } from "./api";
import { renderAlert, renderAlerts } from "./alerts";
import { renderAsset } from "./asset";
import { renderInventory } from "./inventory";
import { mapPath, renderMap } from "./map";
import { renderRisk } from "./risk";
import { renderSensors } from "./sensors";
import { h } from "./dom";

/** What a view gets from the shell. */
export interface Ctx {
  session: Session;
  /** The site picked in the header; empty for every site. */
  site(): string;
  navigate(path: string): void;
  /** Subscribes to Watch changes; returns the unsubscribe function. */
  onChange(fn: (change: Change) => void): () => void;
  /** Shows an error in the page's alert region. */
  flash(message: string): void;
  /** Announces a short message to screen readers. */
  announce(message: string): void;
}

type View = (main: HTMLElement, ctx: Ctx, param: string) => Promise<(() => void) | void>;

const routes: [RegExp, string, View][] = [
  [/^\/(map)?$/, "map", (m, c) => renderMap(m, c)],
  [/^\/assets$/, "assets", (m, c) => renderInventory(m, c)],
  [/^\/assets\/(.+)$/, "assets", (m, c, p) => renderAsset(m, c, p)],
  [/^\/alerts$/, "alerts", (m, c) => renderAlerts(m, c)],
  [/^\/alerts\/(.+)$/, "alerts", (m, c, p) => renderAlert(m, c, p)],
  [/^\/sensors$/, "sensors", (m, c) => renderSensors(m, c)],
  [/^\/risk$/, "risk", (m, c) => renderRisk(m, c)],
];

const main = document.getElementById("main") as HTMLElement;
const flashBox = document.getElementById("flash") as HTMLElement;
const live = document.getElementById("live") as HTMLElement;
const siteSelect = document.getElementById("site-select") as HTMLSelectElement;
const listeners = new Set<(change: Change) => void>();
let cleanup: (() => void) | void;
let events: EventSource | undefined;
let generation = 0;

const SITE_KEY = "otwatch.site";

const ctx: Ctx = {
  session: { name: "", role: "viewer", csrf: "" },
  site: () => siteSelect.value,
  navigate(path: string) {
    history.pushState(null, "", path);
    void route();
  },
  onChange(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
  flash(message: string) {
    flashBox.textContent = message;
    flashBox.hidden = false;
  },
  announce(message: string) {
    live.textContent = message;
  },
};

async function route(): Promise<void> {
  const mine = ++generation;
  flashBox.hidden = true;
  if (cleanup) cleanup();
  cleanup = undefined;
  const path = window.location.pathname.replace(/\/+$/, "") || "/";
  const match = routes.find(([re]) => re.test(path));
  for (const link of document.querySelectorAll<HTMLAnchorElement>("[data-nav]")) {
    if (match && link.dataset.nav === match[1]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren();
  if (!match) {
    main.append(h("h1", {}, "Not found"), h("p", {}, "No page here. ", h("a", { href: "/map" }, "Go to the map"), "."));
    return;
  }
  const param = decodeURIComponent(path.match(match[0])?.[1] ?? "");
  document.title = `${match[1][0].toUpperCase()}${match[1].slice(1)} · otwatch`;
  try {
    const done = await match[2](main, ctx, param);
    if (mine !== generation) {
      if (done) done();
      return;
    }
    cleanup = done;
  } catch (e) {
    if (mine !== generation) return;
    const message = e instanceof ApiError ? e.message : `Something went wrong: ${(e as Error).message}`;
    ctx.flash(message);
  }
}

function connectEvents(): void {
  events?.close();
  events = new EventSource(`/api/v1/Watch?site=${encodeURIComponent(siteSelect.value)}`);
  events.addEventListener("change", (event) => {
    let change: Change;
    try {
      change = JSON.parse((event as MessageEvent).data);
    } catch {
      return;
    }
    for (const fn of listeners) fn(change);
  });
  events.addEventListener("error", async () => {
    // A closed stream after the session ended: back to login. Otherwise EventSource retries.
    if (events?.readyState === EventSource.CLOSED) {
      try {
        await session();
      } catch {
        // session() already redirects on 401.
      }
    }
  });
}

async function start(): Promise<void> {
  // The map is the first page: its data (the biggest answer) is asked for while the session
  // and the sites load.
  if (/^\/(map)?\/?$/.test(window.location.pathname)) prefetch(mapPath(sessionStorage.getItem(SITE_KEY) ?? ""));
  ctx.session = await session();
  (document.getElementById("user-name") as HTMLElement).textContent = ctx.session.name;
  (document.getElementById("user-role") as HTMLElement).textContent = ctx.session.role;
  document.getElementById("logout")!.addEventListener("click", () => void logout());

  try {
    const sites = (await rpc<{ sites: Site[] }>("ListSites")).sites ?? [];
    for (const s of sites) siteSelect.append(h("option", { value: s.name }, s.name));
    const saved = sessionStorage.getItem(SITE_KEY) ?? "";
    if (sites.some((s) => s.name === saved)) siteSelect.value = saved;
  } catch (e) {
    ctx.flash((e as Error).message);
  }
  siteSelect.addEventListener("change", () => {
    sessionStorage.setItem(SITE_KEY, siteSelect.value);
    connectEvents();
    void route();
  });

  // Same-origin links of the app route on the client; new tabs and downloads go to the browser.
  document.addEventListener("click", (event) => {
    const a = (event.target as Element).closest?.("a");
    if (!a || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (a.target || a.hasAttribute("download") || a.origin !== window.location.origin) return;
    const path = a.pathname.replace(/\/+$/, "") || "/";
    if (!routes.some(([re]) => re.test(path))) return;
    event.preventDefault();
    ctx.navigate(a.pathname + a.search);
    main.focus();
  });
  window.addEventListener("popstate", () => void route());

  connectEvents();
  await route();
}

void start();

