/**
 * DataExplorer: a virtualised table over one object type of the DuckDB cache. Python twin:
 * realm_jupyter/widgets/explorer.py.
 *
 * Grid decision: our own fixed-height virtual rows (virtual.ts) + apache-arrow. quak (closest)
 * is a widget, not a library, whose browser sends SQL for the kernel to run: we keep its Arrow
 * pages over the comm, but filter in RQL through our source. Mosaic is that SQL coordinator plus
 * plots; Perspective adds a multi-MB WASM engine with a second copy of the rows; regular-table
 * defines a global custom element (bundles clash) with its own data model; @tanstack/virtual-core
 * measures variable rows but not the max element height 1M+ rows exceed (we scale the scrollbar).
 */
import type { RenderProps } from "@anywidget/types";
import { type Vector, tableFromIPC } from "apache-arrow";

import { caretView, debounce, h, injectStyles, requestIds } from "./common";
import { columnWidth, formatCell, formatCount } from "./format";
import css from "./styles.css";
import {
  type PageReply,
  type PageRequest,
  PageStore,
  type SortKey,
  computeLayout,
  cycleSort,
} from "./virtual";

/** Mirrors one entry of DataExplorer.columns. */
export interface ColumnInfo {
  name: string;
  /** A DuckDB type name: "BIGINT", "TIMESTAMP WITH TIME ZONE", "STRUCT(a INTEGER)"… */
  type: string;
}

/** Mirrors DataExplorer.filter_error: {} when the filter was accepted. */
export interface FilterError {
  message?: string;
  position?: number | null;
}

/** Mirrors the synced traits of DataExplorer (realm_jupyter/widgets/explorer.py). */
export interface ExplorerModel {
  object_type: string;
  columns: ColumnInfo[];
  total_rows: number;
  sort: SortKey[];
  filter: string;
  filter_error: FilterError;
  page_size: number;
  revision: number;
}

export type ExplorerMessage = PageRequest;
export type ExplorerReply = PageReply;

export const ROW_HEIGHT = 24;
export const OVERSCAN = 10;
export const CACHE_PAGES = 16;
export const FILTER_DELAY_MS = 300;
/** The scroller's CSS height (--rj-explorer-height), used until the real one is measured. */
const DEFAULT_HEIGHT = 360;
/** How long a sort click waits for Python's revision bump before asking for rows anyway. */
const SORT_HOLD_MS = 3000;

/** One decoded page: its row count and a column vector per model column (null if absent). */
export interface DecodedPage {
  rows: number;
  columns: (Vector | null)[];
}

export function decodePage(buffer: DataView, columns: ColumnInfo[]): DecodedPage {
  const table = tableFromIPC(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength));
  return { rows: table.numRows, columns: columns.map((c) => table.getChild(c.name)) };
}

function sortMark(sort: SortKey[], column: string): string {
  const index = sort.findIndex((key) => key.column === column);
  const key = sort[index];
  if (!key) return "";
  const arrow = key.ascending ? "▲" : "▼";
  return sort.length > 1 ? ` ${arrow}${index + 1}` : ` ${arrow}`;
}

function render({ model, el }: RenderProps<ExplorerModel>): () => void {
  injectStyles(el, css);
  const nextId = requestIds();
  const store = new PageStore<DecodedPage>(
    model.get("page_size"),
    CACHE_PAGES,
    model.get("revision"),
    (msg) => model.send(msg),
    nextId,
  );

  const typeLabel = h("span", { class: "rj-type" });
  const filterInput = h("input", {
    class: "rj-filter",
    type: "text",
    placeholder: "filter (RQL), e.g. status == 'open' AND priority >= 2",
    spellcheck: "false",
    "aria-label": "filter",
  });
  const countLabel = h("span", { class: "rj-muted" });
  const filterError = h("div", { class: "rj-hint" });
  const header = h("div", { class: "rj-row rj-header", role: "row" });
  const rowsLayer = h("div", { class: "rj-rows", role: "rowgroup" });
  const spacer = h("div", { class: "rj-spacer" }, rowsLayer);
  const scroller = h("div", { class: "rj-scroller", tabindex: 0, role: "table" }, header, spacer);
  const pageError = h("div", { class: "rj-error", role: "alert" });
  const root = h(
    "div",
    { class: "rj rj-explorer" },
    h("div", { class: "rj-toolbar" }, typeLabel, filterInput, countLabel),
    filterError,
    scroller,
    pageError,
  );
  el.append(root);

  // ------------------------------------------------------------------ drawing

  let frame = 0;
  const schedule = (): void => {
    if (frame === 0) {
      frame = requestAnimationFrame(() => {
        frame = 0;
        draw();
      });
    }
  };

  const draw = (): void => {
    const columns = model.get("columns");
    const total = model.get("total_rows");
    // Not laid out yet (rendered before being attached, or in a hidden cell): draw a screenful
    // anyway; the ResizeObserver redraws once the real size is known.
    const height = scroller.clientHeight > 0 ? scroller.clientHeight : DEFAULT_HEIGHT;
    const viewport = Math.max(ROW_HEIGHT, height - ROW_HEIGHT);
    const layout = computeLayout({
      scrollTop: scroller.scrollTop,
      viewportHeight: viewport,
      rowHeight: ROW_HEIGHT,
      totalRows: total,
      overscan: OVERSCAN,
    });
    spacer.style.height = `${layout.spacerHeight}px`;
    rowsLayer.style.transform = `translateY(${layout.offsetY}px)`;
    store.need(layout.start, layout.end);
    if (total === 0) {
      const empty = model.get("filter") ? "No rows match the filter." : "No rows cached yet.";
      rowsLayer.replaceChildren(h("div", { class: "rj-empty" }, empty));
    } else {
      const rows: HTMLElement[] = [];
      for (let row = layout.start; row < layout.end; row++) rows.push(rowView(row, columns));
      rowsLayer.replaceChildren(...rows);
    }
    pageError.textContent = store.error ? `Could not read rows: ${store.error}` : "";
  };

  const rowView = (row: number, columns: ColumnInfo[]): HTMLElement => {
    const found = store.locate(row);
    const cells: HTMLElement[] = [h("div", { class: "rj-gutter" }, formatCount(row + 1))];
    columns.forEach((column, i) => {
      if (!found) {
        cells.push(h("div", { class: "rj-loading" }, "…"));
        return;
      }
      const cell = formatCell(found.page.columns[i]?.get(found.index), column.type);
      cells.push(
        h(
          "div",
          {
            class: `rj-cell-${cell.kind}${cell.isNull ? " rj-null" : ""}`,
            title: cell.text.length > 16 ? cell.text.slice(0, 2000) : null,
          },
          cell.text,
        ),
      );
    });
    return h("div", { class: `rj-row${row % 2 ? " rj-odd" : ""}`, role: "row" }, ...cells);
  };

  const drawHeader = (): void => {
    const columns = model.get("columns");
    const sort = model.get("sort");
    const gutter = Math.max(40, formatCount(model.get("total_rows")).length * 8 + 20);
    const widths = [gutter, ...columns.map((c) => columnWidth(c.name, c.type))];
    root.style.setProperty("--rj-columns", widths.map((w) => `${w}px`).join(" "));
    header.replaceChildren(
      h("div", { class: "rj-gutter", title: "row number" }, "#"),
      ...columns.map((column) => {
        const cell = h(
          "div",
          {
            role: "columnheader",
            title: `${column.name} ${column.type}: click to sort, shift-click to add a sort key`,
          },
          column.name,
          h("span", { class: "rj-type-name" }, column.type.toLowerCase()),
          sortMark(sort, column.name),
        );
        cell.addEventListener("click", (event) => onSortClick(column.name, event.shiftKey));
        return cell;
      }),
    );
  };

  const drawToolbar = (): void => {
    typeLabel.textContent = model.get("object_type");
    const total = model.get("total_rows");
    countLabel.textContent = `${formatCount(total)} row${total === 1 ? "" : "s"}`;
    const error = model.get("filter_error");
    filterInput.classList.toggle("rj-invalid", Boolean(error.message));
    filterError.replaceChildren(
      ...(error.message
        ? [
            h("div", { class: "rj-error" }, `${error.message} (showing the last valid filter)`),
            caretView(model.get("filter"), error.position) ?? "",
          ]
        : []),
    );
  };

  // ------------------------------------------------------------------ events

  let holdTimer: ReturnType<typeof setTimeout> | undefined;
  const onSortClick = (column: string, additive: boolean): void => {
    model.set("sort", cycleSort(model.get("sort"), column, additive));
    model.save_changes();
    // Python bumps `revision` for the new order; wait for it instead of fetching twice.
    store.reset(store.revision, store.pageSize, true);
    clearTimeout(holdTimer);
    holdTimer = setTimeout(() => {
      store.reset(model.get("revision"));
      schedule();
    }, SORT_HOLD_MS);
    drawHeader();
    schedule();
  };

  const sendFilter = debounce((text: string) => {
    if (text === model.get("filter")) return;
    model.set("filter", text);
    model.save_changes();
  }, FILTER_DELAY_MS);
  filterInput.addEventListener("input", () => sendFilter(filterInput.value));
  filterInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") sendFilter.flush();
    if (event.key === "Escape") {
      sendFilter.cancel();
      filterInput.value = model.get("filter");
    }
  });

  const onMessage = (msg: ExplorerReply, buffers: DataView[]): void => {
    if (msg?.kind !== "page") return;
    const columns = model.get("columns");
    const buffer = buffers[0];
    const reply = buffer || msg.error ? msg : { ...msg, error: "the reply had no rows buffer" };
    if (store.accept(reply, () => decodePage(buffer as DataView, columns))) schedule();
  };

  const onRevision = (): void => {
    clearTimeout(holdTimer);
    store.reset(model.get("revision"), model.get("page_size"));
    schedule();
  };
  const onFilter = (): void => {
    if (filterInput.value !== model.get("filter") && !sendFilter.pending()) {
      filterInput.value = model.get("filter");
    }
    drawToolbar();
  };
  const onColumns = (): void => {
    drawHeader();
    schedule();
  };
  const onTotal = (): void => {
    drawToolbar();
    drawHeader(); // the row-number column widens with the count
    schedule();
  };

  const listeners: [string, () => void][] = [
    ["change:revision", onRevision],
    ["change:page_size", onRevision],
    ["change:columns", onColumns],
    ["change:sort", drawHeader],
    ["change:total_rows", onTotal],
    ["change:object_type", drawToolbar],
    ["change:filter", onFilter],
    ["change:filter_error", drawToolbar],
  ];
  for (const [event, fn] of listeners) model.on(event, fn);
  model.on("msg:custom", onMessage);
  scroller.addEventListener("scroll", schedule, { passive: true });
  const resize = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(schedule);
  resize?.observe(scroller);

  filterInput.value = model.get("filter");
  drawToolbar();
  drawHeader();
  schedule();

  return () => {
    for (const [event, fn] of listeners) model.off(event, fn);
    model.off("msg:custom", onMessage);
    resize?.disconnect();
    sendFilter.cancel();
    clearTimeout(holdTimer);
    if (frame !== 0) cancelAnimationFrame(frame);
  };
}

export default { render };
