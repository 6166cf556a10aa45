// Tables (inventory, alerts) with Tabulator: sort, header filters, a free-text search box, a
// column chooser and CSV export. Cells are formatted as text or built elements, never raw HTML:
// names and hostnames come off the network.

import {
  DownloadModule,
  EditModule,
  ExportModule,
  FilterModule,
  FormatModule,
  InteractionModule,
  ResizeColumnsModule,
  SortModule,
  Tabulator,
  type ColumnDefinition,
} from "tabulator-tables";
import { h } from "./dom";

Tabulator.registerModule([DownloadModule, EditModule, ExportModule, FilterModule, FormatModule, InteractionModule, ResizeColumnsModule, SortModule]);

export interface TableOptions<T> {
  id: string;
  label: string;
  columns: ColumnDefinition[];
  data: T[];
  /** Fields the free-text box searches (their text, case-insensitive). */
  searchFields: string[];
  csvName: string;
  onRowClick?: (row: T) => void;
  rowFormatter?: (row: T, el: HTMLElement) => void;
  index?: string;
}

export interface Table<T> {
  el: HTMLElement;
  table: Tabulator;
  setData(rows: T[]): void;
  ready: Promise<void>;
}

export function makeTable<T extends object>(opts: TableOptions<T>): Table<T> {
  const holder = h("div", { class: "table", id: opts.id, "aria-label": opts.label });
  const search = h("input", { type: "search", id: `${opts.id}-search`, placeholder: "Search…", "aria-label": `Search ${opts.label}` });
  const chooser = h("details", { class: "chooser" }, h("summary", { class: "btn" }, "Columns"));
  const csv = h("button", { type: "button", class: "btn" }, "Export CSV");
  const count = h("span", { class: "muted", role: "status" });
  const toolbar = h("div", { class: "table-tools" }, search, chooser, csv, count);
  const el = h("div", { class: "table-block" }, toolbar, holder);

  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const table = new Tabulator(holder, {
    data: opts.data as object[],
    index: opts.index ?? "id",
    columns: opts.columns,
    layout: "fitDataStretch",
    height: "calc(100vh - 260px)",
    placeholder: "Nothing to show",
    columnDefaults: { headerFilterPlaceholder: "filter", resizable: true },
    rowFormatter: opts.rowFormatter ? (row) => opts.rowFormatter!(row.getData() as T, row.getElement()) : undefined,
  });
  table.on("tableBuilt", () => {
    buildChooser();
    updateCount();
    ready();
  });
  table.on("dataFiltered", (_filters, rows) => updateCount(rows.length));
  if (opts.onRowClick) {
    table.on("rowClick", (e, row) => {
      // A link inside the row navigates by itself.
      if ((e.target as Element).closest("a")) return;
      opts.onRowClick!(row.getData() as T);
    });
  }

  const needle = { text: "" };
  function searchFilter(data: Record<string, unknown>): boolean {
    if (!needle.text) return true;
    return opts.searchFields.some((f) => {
      const v = data[f];
      const s = Array.isArray(v) ? v.join(" ") : String(v ?? "");
      return s.toLowerCase().includes(needle.text);
    });
  }
  search.addEventListener("input", () => {
    needle.text = search.value.trim().toLowerCase();
    // The search is the table's one programmatic filter; header filters are kept apart.
    if (needle.text) table.setFilter(searchFilter as never);
    else table.clearFilter(false);
  });
  csv.addEventListener("click", () => table.download("csv", opts.csvName));

  function updateCount(shown?: number): void {
    const total = table.getDataCount();
    count.textContent = `${shown ?? table.getDataCount("active")} of ${total} rows`;
  }

  function buildChooser(): void {
    const list = h("div", { class: "chooser-list", role: "group", "aria-label": "Visible columns" });
    for (const column of table.getColumns()) {
      const def = column.getDefinition();
      const box = h("input", { type: "checkbox", checked: column.isVisible() });
      box.addEventListener("change", () => (box.checked ? column.show() : column.hide()));
      list.append(h("label", {}, box, " ", def.title ?? def.field ?? ""));
    }
    chooser.append(list);
  }

  return {
    el,
    table,
    ready: readyP,
    setData(rows: T[]) {
      void table.replaceData(rows as object[]);
    },
  };
}

/** A cell that links to a page of the console. */
export function linkFormatter(href: (data: Record<string, unknown>) => string) {
  return (cell: { getValue(): unknown; getData(): unknown }) => {
    const data = cell.getData() as Record<string, unknown>;
    return h("a", { href: href(data) }, String(cell.getValue() ?? ""));
  };
}

/** A cell formatted by `fn` as text. */
export function textFormatter(fn: (value: unknown, data: Record<string, unknown>) => string) {
  return (cell: { getValue(): unknown; getData(): unknown }): HTMLElement =>
    h("span", {}, fn(cell.getValue(), cell.getData() as Record<string, unknown>));
}
