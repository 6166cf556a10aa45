// Small DOM helpers. Elements are built with createElement and textContent, never from HTML
// strings, so the console's Content-Security-Policy (no inline style or script) always holds.

type Child = Node | string | number | null | undefined | false;
type Props = Record<string, string | number | boolean | EventListener | undefined | null>;

/** `h("a", {href: "/x", class: "link"}, "text")`; `on<event>` props become listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value as EventListener);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** A definition list of label/value rows; empty values show as "—". */
export function facts(rows: [string, Child | Child[]][]): HTMLDListElement {
  const dl = h("dl", { class: "facts" });
  for (const [label, value] of rows) {
    const empty = value === "" || value === null || value === undefined || (Array.isArray(value) && value.length === 0);
    dl.append(h("dt", {}, label), h("dd", {}, empty ? h("span", { class: "muted" }, "—") : value));
  }
  return dl;
}

export function section(title: string, ...children: (Child | Child[])[]): HTMLElement {
  const id = "s-" + title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

/** "2026-12-07T10:00:00Z" -> "2026-12-07 10:00:00 UTC"; empty stays empty. */
export function time(rfc3339: string | undefined): string {
  if (!rfc3339) return "";
  return rfc3339.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
}

export function bytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function riskClass(risk: number): string {
  return risk >= 70 ? "risk-high" : risk >= 40 ? "risk-medium" : "risk-low";
}

export function severityBadge(severity: string): HTMLElement {
  return h("span", { class: `badge sev-${severity || "none"}` }, severity || "none");
}
