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
import {
  type ColumnSummary,
  SUMMARY_HEIGHT,
  narrowFilter,
  summaryCell,
} from "./explorer-summaries";
import { columnWidth, formatCell, formatCount } from "./format";
import {
  type Bounds,
  type Selection,
  clampCell,
  contains,
  keyAction,
  scrollTopFor,
  selectionRange,
  selectionTsv,
} from "./grid-keys";
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
  /** Rows of the type without the filter. */
  all_rows: number;
  sort: SortKey[];
  filter: string;
  filter_error: FilterError;
  page_size: number;
  revision: number;
}

/** Ask Python for the text of rows the browser does not hold (a copy of a large selection). */
export interface CopyRequest {
  kind: "copy";
  request_id: string;
  offset: number;
  limit: number;
  columns: string[];
  /** Whether the first line names the columns (a selection of whole columns). */
  header: boolean;
}

/** Python's answer: the rows as TSV, or why not. */
export interface CopyReply {
  kind: "copy";
  request_id: string;
  text?: string;
  error?: string;
}

/** Ask for the column summaries of the rows shown. */
export interface SummariesRequest {
  kind: "summaries";
  request_id: string;
  /** The revision the browser shows: Python skips the request when the rows moved on. */
  revision: number;
}

export interface SummariesReply {
  kind: "summaries";
  request_id: string;
  revision: number;
  summaries?: ColumnSummary[];
  error?: string;
}

/** Ask for the rows shown as a file; the reply's one buffer is the file. */
export interface ExportRequest {
  kind: "export";
  request_id: string;
  format: "csv" | "parquet";
}

export interface ExportReply {
  kind: "export";
  request_id: string;
  filename?: string;
  mime?: string;
  error?: string;
}

export type ExplorerMessage = PageRequest | CopyRequest | SummariesRequest | ExportRequest;
export type ExplorerReply = PageReply | CopyReply | SummariesReply | ExportReply;

export const ROW_HEIGHT = 24;
export const OVERSCAN = 10;
export const CACHE_PAGES = 16;
export const FILTER_DELAY_MS = 300;
/** Page requests on their way at once: a fast drag asks only for where it stops. */
export const MAX_INFLIGHT_PAGES = 2;
/** How long after a change of the rows the summaries are asked again. */
const SUMMARY_DELAY_MS = 250;
const MIN_COLUMN_WIDTH = 48;
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
  return sort.length > 1 ? `${arrow}${index + 1}` : arrow;
}

function ariaSort(sort: SortKey[], column: string): string {
  const key = sort.find((k) => k.column === column);
  if (!key) return "none";
  return key.ascending ? "ascending" : "descending";
}

/** The row count as a person reads it: "6 of 2,654 rows" when a filter narrows the type. */
export function countText(total: number, all: number, filtered: boolean): string {
  if (filtered) return `${formatCount(total)} of ${formatCount(all)} row${all === 1 ? "" : "s"}`;
  return `${formatCount(total)} row${total === 1 ? "" : "s"}`;
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
    MAX_INFLIGHT_PAGES,
  );

  const typeLabel = h("span", { class: "rj-type" });
  const filterInput = h("input", {
    class: "rj-filter",
    type: "text",
    placeholder: "filter (RQL), e.g. status == 'open' AND priority >= 2",
    spellcheck: "false",
    "aria-label": "filter",
  });
  const countLabel = h("span", { class: "rj-muted rj-count", "aria-live": "polite" });
  const busy = h("span", { class: "rj-spinner", role: "progressbar", "aria-label": "working" });
  const exportCsv = h("button", { class: "rj-export", type: "button", title: "download the rows shown as CSV" }, "CSV");
  const exportParquet = h("button", { class: "rj-export", type: "button", title: "download the rows shown as Parquet" }, "Parquet");
  const filterError = h("div", { class: "rj-hint" });
  const header = h("div", { class: "rj-row rj-header", role: "row" });
  const summaryRow = h("div", { class: "rj-row rj-summaries", role: "row" });
  const rowsLayer = h("div", { class: "rj-rows", role: "rowgroup" });
  const spacer = h("div", { class: "rj-spacer" }, rowsLayer);
  const scroller = h(
    "div",
    { class: "rj-scroller", tabindex: 0, role: "grid", "aria-label": "rows" },
    header,
    summaryRow,
    spacer,
  );
  const pageError = h("div", { class: "rj-error", role: "alert" });
  const copyStatus = h("div", { class: "rj-hint", role: "status" });
  const root = h(
    "div",
    // Lumino skips its keyboard shortcuts for events from inside such an element.
    { class: "rj rj-explorer", "data-lm-suppress-shortcuts": "true" },
    h(
      "div",
      { class: "rj-toolbar" },
      typeLabel,
      filterInput,
      busy,
      countLabel,
      exportCsv,
      exportParquet,
    ),
    filterError,
    scroller,
    pageError,
    copyStatus,
  );
  el.append(root);

  // ------------------------------------------------------------------ cursor and selection

  let selection: Selection = { anchor: { row: 0, col: 0 }, cursor: { row: 0, col: 0 } };
  let showCursor = false; // after the first click or key in the grid
  /** Height of the sticky rows above the data: the header and the summaries. */
  const stickyHeight = (): number => ROW_HEIGHT + (summaries.length ? SUMMARY_HEIGHT : 0);
  const viewportRows = (): number => {
    const height = scroller.clientHeight > 0 ? scroller.clientHeight : DEFAULT_HEIGHT;
    return Math.max(1, Math.floor((height - stickyHeight()) / ROW_HEIGHT));
  };
  const bounds = (): Bounds => ({
    rows: model.get("total_rows"),
    cols: model.get("columns").length,
    pageRows: viewportRows(),
  });

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
    // Short results get a short grid: no empty block under the last row.
    const fitted = stickyHeight() + Math.max(1, total) * ROW_HEIGHT + 18;
    scroller.style.height = fitted < DEFAULT_HEIGHT ? `${fitted}px` : "";
    const height = scroller.clientHeight > 0 ? scroller.clientHeight : DEFAULT_HEIGHT;
    const viewport = Math.max(ROW_HEIGHT, height - stickyHeight());
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
    const loading = store.inflight > 0 && !store.locate(layout.start) && total > 0;
    root.classList.toggle("rj-busy", waiting || loading);
    // What is on screen, for tests and benchmarks to wait on:
    // "revision first-row complete scrollTop" (complete: every row on screen is drawn).
    const complete =
      !waiting &&
      (total === 0 ||
        (store.locate(layout.start) !== undefined &&
          store.locate(Math.max(layout.start, layout.end - 1)) !== undefined));
    root.dataset.painted = `${store.revision} ${layout.start} ${complete ? 1 : 0} ${Math.round(
      scroller.scrollTop,
    )}`;
    if (complete && summariesFor !== model.get("revision")) askSummaries();
  };

  const rowView = (row: number, columns: ColumnInfo[]): HTMLElement => {
    const found = store.locate(row);
    const range = showCursor ? selectionRange(selection, bounds()) : undefined;
    const cells: HTMLElement[] = [
      h("div", { class: "rj-gutter", "data-row": row }, formatCount(row + 1)),
    ];
    columns.forEach((column, i) => {
      const marks =
        (range && contains(range, row, i) ? " rj-selected" : "") +
        (showCursor && selection.cursor.row === row && selection.cursor.col === i
          ? " rj-cursor"
          : "");
      if (!found) {
        cells.push(h("div", { class: `rj-loading${marks}`, "data-row": row, "data-col": i }, "…"));
        return;
      }
      const cell = formatCell(found.page.columns[i]?.get(found.index), column.type);
      cells.push(
        h(
          "div",
          {
            class: `rj-cell-${cell.kind}${cell.isNull ? " rj-null" : ""}${marks}`,
            title: cell.text.length > 16 ? cell.text.slice(0, 2000) : null,
            "data-row": row,
            "data-col": i,
            role: "gridcell",
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
    const widths = [
      gutter,
      ...columns.map((c) => chosenWidths.get(c.name) ?? columnWidth(c.name, c.type)),
    ];
    columnWidths = widths;
    root.style.setProperty("--rj-columns", widths.map((w) => `${w}px`).join(" "));
    root.style.setProperty("--rj-gutter-width", `${gutter}px`);
    header.replaceChildren(
      h("div", { class: "rj-gutter", title: "row number" }, "#"),
      ...columns.map((column) => {
        const handle = h("div", {
          class: "rj-resize",
          title: "drag to resize",
          "aria-hidden": "true",
        });
        const cell = h(
          "div",
          {
            role: "columnheader",
            "aria-sort": ariaSort(sort, column.name),
            title: `${column.name} ${column.type}: click to sort, shift-click to add a sort key`,
          },
          h("span", { class: "rj-sort-mark" }, sortMark(sort, column.name)),
          h("span", { class: "rj-header-name" }, column.name),
          h("span", { class: "rj-type-name" }, column.type.toLowerCase()),
          handle,
        );
        cell.addEventListener("click", (event) => {
          if (event.target !== handle) onSortClick(column.name, event.shiftKey);
        });
        handle.addEventListener("pointerdown", (event) => startResize(event, column.name, cell));
        return cell;
      }),
    );
    drawSummaries();
  };

  // ------------------------------------------------------------------ column widths

  const chosenWidths = new Map<string, number>();
  /** Pixel widths of the gutter and each column, as last drawn. */
  let columnWidths: number[] = [];
  const startResize = (event: PointerEvent, column: string, cell: HTMLElement): void => {
    event.preventDefault();
    event.stopPropagation();
    const startX = event.clientX;
    const startWidth = cell.getBoundingClientRect().width;
    const move = (e: PointerEvent): void => {
      chosenWidths.set(column, Math.max(MIN_COLUMN_WIDTH, Math.round(startWidth + e.clientX - startX)));
      drawHeader();
      schedule();
    };
    const up = (): void => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  };

  // ------------------------------------------------------------------ summaries

  let summaries: ColumnSummary[] = [];
  let summaryRequest: string | undefined;
  const drawSummaries = (): void => {
    const byColumn = new Map(summaries.map((s) => [s.column, s]));
    summaryRow.hidden = summaries.length === 0;
    summaryRow.replaceChildren(
      h("div", { class: "rj-gutter rj-summary-label" }, "Σ"),
      ...model.get("columns").map((c) => summaryCell(byColumn.get(c.name), pickFilter)),
    );
  };
  // Summaries are asked once the rows on screen are drawn, so that their scan never holds
  // up a page; and at most once per revision.
  let summariesFor = -1;
  const askSummaries = debounce(() => {
    const revision = model.get("revision");
    if (summariesFor === revision || waiting) return;
    summariesFor = revision;
    summaryRequest = nextId();
    model.send({
      kind: "summaries",
      request_id: summaryRequest,
      revision,
    } satisfies SummariesRequest);
  }, SUMMARY_DELAY_MS);
  const onSummaries = (reply: SummariesReply): void => {
    if (reply.request_id !== summaryRequest || reply.revision !== model.get("revision")) return;
    summaryRequest = undefined;
    if (reply.summaries) summaries = reply.summaries;
    summaryRow.classList.remove("rj-stale");
    drawSummaries();
    root.dataset.summaries = String(reply.revision);
    schedule();
  };
  const pickFilter = (bar: string): void => {
    const next = narrowFilter(model.get("filter"), bar);
    filterInput.value = next;
    sendFilter(next);
    sendFilter.flush();
  };

  // ------------------------------------------------------------------ export

  const pendingExports = new Set<string>();
  const askExport = (format: "csv" | "parquet"): void => {
    const id = nextId();
    pendingExports.add(id);
    copyStatus.textContent = `Preparing ${format.toUpperCase()}…`;
    model.send({ kind: "export", request_id: id, format } satisfies ExportRequest);
  };
  const onExport = (reply: ExportReply, buffers: DataView[]): void => {
    if (!pendingExports.delete(reply.request_id)) return;
    const data = buffers[0];
    if (reply.error || !data) {
      copyStatus.textContent = `Not exported: ${reply.error ?? "no file came back"}`;
      return;
    }
    const blob = new Blob([new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength)], {
      type: reply.mime ?? "application/octet-stream",
    });
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: reply.filename ?? "export" });
    root.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    copyStatus.textContent = `Downloaded ${reply.filename} (${formatCount(data.byteLength)} bytes).`;
  };
  exportCsv.addEventListener("click", () => askExport("csv"));
  exportParquet.addEventListener("click", () => askExport("parquet"));

  const drawToolbar = (): void => {
    typeLabel.textContent = model.get("object_type");
    const total = model.get("total_rows");
    const filtered = total !== model.get("all_rows") || Boolean(model.get("filter").trim());
    countLabel.textContent = countText(total, model.get("all_rows"), filtered);
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
  /** A filter or sort was sent and Python has not answered with new rows yet. */
  let waiting = false;
  const onSortClick = (column: string, additive: boolean): void => {
    waiting = true;
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
    waiting = true;
    schedule();
    model.set("filter", text);
    model.save_changes();
  }, FILTER_DELAY_MS);
  filterInput.addEventListener("input", () => sendFilter(filterInput.value));
  const onFilterKey = (event: KeyboardEvent): void => {
    if (event.key === "Enter") sendFilter.flush();
    if (event.key === "Escape") {
      sendFilter.cancel();
      filterInput.value = model.get("filter");
    }
  };

  // ------------------------------------------------------------------ keys, clicks and copy

  const reveal = (): void => {
    const total = model.get("total_rows");
    const viewport = Math.max(ROW_HEIGHT, scroller.clientHeight - ROW_HEIGHT);
    const layout = computeLayout({
      scrollTop: 0,
      viewportHeight: viewport,
      rowHeight: ROW_HEIGHT,
      totalRows: total,
      overscan: 0,
    });
    const scrollable = Math.max(0, layout.spacerHeight - viewport);
    const contentScrollable = Math.max(1, total * ROW_HEIGHT - viewport);
    const scale = scrollable > 0 ? scrollable / contentScrollable : 1;
    const top = scrollTopFor(selection.cursor.row, scroller.scrollTop, viewport, ROW_HEIGHT, scale);
    if (top !== undefined) scroller.scrollTop = top;
    // Sideways: the gutter and the first column stay put, so reveal past them.
    const col = selection.cursor.col;
    const left = columnWidths.slice(0, col + 1).reduce((a, b) => a + b, 0);
    const width = columnWidths[col + 1] ?? 0;
    const pinned = (columnWidths[0] ?? 0) + (columnWidths[1] ?? 0);
    if (col === 0) scroller.scrollLeft = 0;
    else if (left - pinned < scroller.scrollLeft) scroller.scrollLeft = left - pinned;
    else if (left + width > scroller.scrollLeft + scroller.clientWidth) {
      scroller.scrollLeft = left + width - scroller.clientWidth;
    }
  };

  const select = (next: Selection): void => {
    selection = next;
    showCursor = true;
    schedule();
    requestAnimationFrame(reveal);
  };

  const cellText = (row: number, col: number): string | undefined => {
    const found = store.locate(row);
    const column = model.get("columns")[col];
    if (!found || !column) return undefined;
    return formatCell(found.page.columns[col]?.get(found.index), column.type).text;
  };

  /** The selection as TSV when every selected row is loaded here; undefined otherwise. */
  const localTsv = (): string | undefined => {
    const range = selectionRange(selection, bounds());
    for (let row = range.top; row <= range.bottom; row++) {
      if (!store.locate(row)) return undefined;
    }
    const names = model.get("columns").map((c) => c.name);
    return selectionTsv(range, names, (row, col) => cellText(row, col) ?? "", Boolean(selection.wholeColumns));
  };

  const pendingCopies = new Set<string>();
  const copyFromKernel = (): void => {
    const range = selectionRange(selection, bounds());
    const names = model.get("columns").map((c) => c.name).slice(range.left, range.right + 1);
    const id = nextId();
    pendingCopies.add(id);
    copyStatus.textContent = `Copying ${formatCount(range.bottom - range.top + 1)} rows…`;
    model.send({
      kind: "copy",
      request_id: id,
      offset: range.top,
      limit: range.bottom - range.top + 1,
      columns: names,
      header: Boolean(selection.wholeColumns),
    } satisfies CopyRequest);
  };

  const onCopyReply = (reply: CopyReply): void => {
    if (!pendingCopies.delete(reply.request_id)) return;
    if (reply.error || reply.text === undefined) {
      copyStatus.textContent = `Not copied: ${reply.error ?? "no text"}`;
      return;
    }
    const lines = reply.text.split("\n").length;
    navigator.clipboard.writeText(reply.text).then(
      () => {
        copyStatus.textContent = `Copied ${formatCount(lines)} lines.`;
      },
      (error: unknown) => {
        copyStatus.textContent = `Not copied: the browser refused the clipboard (${String(error)})`;
      },
    );
  };

  // Every key pressed in the explorer stays in it: none reaches the notebook's shortcuts.
  const onGridKey = (event: KeyboardEvent): void => {
    const action = keyAction(event, selection, bounds());
    if (action.kind === "move") {
      event.preventDefault();
      select(action.selection);
    } else if (action.kind === "copy") {
      // The browser fires `copy` next (handled below), inside this user gesture.
      showCursor = true;
    }
  };
  // Every key pressed in the explorer stays in it. Notebook frontends handle shortcuts in
  // the capture phase on the document (Notebook 7) or while bubbling (JupyterLab), so the
  // explorer takes its keys first, in the capture phase on the window, handles them and
  // stops them there. Typing still types: default actions are not prevented.
  const onWindowKey = (event: KeyboardEvent): void => {
    const target = event.target;
    if (!(target instanceof Node) || !root.contains(target)) return;
    event.stopPropagation();
    if (event.type !== "keydown") return;
    if (target === filterInput) onFilterKey(event);
    else if (scroller.contains(target)) onGridKey(event);
  };
  const keyEvents = ["keydown", "keypress", "keyup"] as const;
  for (const type of keyEvents) window.addEventListener(type, onWindowKey, true);
  scroller.addEventListener("copy", (event) => {
    if (!showCursor || bounds().rows === 0) return;
    event.preventDefault();
    const text = localTsv();
    if (text === undefined) {
      copyFromKernel();
      return;
    }
    event.clipboardData?.setData("text/plain", text);
    const range = selectionRange(selection, bounds());
    copyStatus.textContent = `Copied ${formatCount(range.bottom - range.top + 1)} rows.`;
  });
  rowsLayer.addEventListener("mousedown", (event) => {
    const target = (event.target as HTMLElement).closest<HTMLElement>("[data-row]");
    if (!target) return;
    const row = Number(target.dataset.row);
    const gutter = target.dataset.col === undefined;
    const col = gutter ? 0 : Number(target.dataset.col);
    const cell = clampCell({ row, col }, bounds());
    scroller.focus({ preventScroll: true });
    if (event.shiftKey && showCursor) {
      select({ ...selection, cursor: gutter ? { row, col: selection.cursor.col } : cell });
    } else {
      select({ anchor: cell, cursor: cell, wholeRows: gutter });
    }
    event.preventDefault(); // no text selection drag; focus stays on the grid
  });

  const onMessage = (msg: ExplorerReply, buffers: DataView[]): void => {
    if (msg?.kind === "copy") {
      onCopyReply(msg);
      return;
    }
    if (msg?.kind === "summaries") {
      onSummaries(msg);
      return;
    }
    if (msg?.kind === "export") {
      onExport(msg, buffers);
      return;
    }
    if (msg?.kind !== "page") return;
    const columns = model.get("columns");
    const buffer = buffers[0];
    const reply = buffer || msg.error ? msg : { ...msg, error: "the reply had no rows buffer" };
    if (store.accept(reply, () => decodePage(buffer as DataView, columns))) schedule();
  };

  const onRevision = (): void => {
    clearTimeout(holdTimer);
    waiting = false;
    summaryRow.classList.add("rj-stale"); // until the summaries of the new rows arrive
    store.reset(model.get("revision"), model.get("page_size"));
    selection = {
      anchor: clampCell(selection.anchor, bounds()),
      cursor: clampCell(selection.cursor, bounds()),
      wholeRows: selection.wholeRows,
      wholeColumns: selection.wholeColumns,
    };
    schedule();
  };
  const onFilter = (): void => {
    if (filterInput.value !== model.get("filter") && !sendFilter.pending()) {
      filterInput.value = model.get("filter");
    }
    drawToolbar();
  };
  const onFilterError = (): void => {
    waiting = false; // refused: the old rows stay
    drawToolbar();
    schedule();
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
    ["change:filter_error", onFilterError],
    ["change:all_rows", drawToolbar],
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
    for (const type of keyEvents) window.removeEventListener(type, onWindowKey, true);
    sendFilter.cancel();
    askSummaries.cancel();
    clearTimeout(holdTimer);
    if (frame !== 0) cancelAnimationFrame(frame);
  };
}

export default { render };
