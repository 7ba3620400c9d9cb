/**
 * The explorer's column summaries: one cell per column under the header, drawn from the
 * aggregates Python computed in DuckDB (realm_jupyter/widgets/summaries.py). A histogram for
 * numbers and dates, the top values for text and booleans; clicking a bar or a value narrows
 * the filter to its rows.
 */
import { h } from "./common";
import { formatCount } from "./format";

/** One histogram bar: its range, its rows, the RQL that keeps them. */
export interface SummaryBin {
  low: number | string;
  high: number | string;
  count: number;
  filter: string;
}

/** One frequent value, its rows, the RQL that keeps them. */
export interface SummaryValue {
  value: string;
  count: number;
  filter: string;
}

/** Mirrors one entry of a `summaries` reply. */
export interface ColumnSummary {
  column: string;
  kind: "histogram" | "top" | "counts";
  nulls: number;
  /** Distinct values (null for nested columns); an estimate when `distinct_approx`. */
  distinct: number | null;
  distinct_approx: boolean;
  bins?: SummaryBin[];
  values?: SummaryValue[];
  other?: number;
}

export const SUMMARY_HEIGHT = 64;

/** The filter after clicking a bar: the current one AND the bar's, parenthesised. */
export function narrowFilter(current: string, bar: string): string {
  const trimmed = current.trim();
  return trimmed ? `(${trimmed}) AND ${bar}` : bar;
}

function label(value: number | string): string {
  if (typeof value === "string") return value.replace("T00:00:00Z", "").replace(".000000Z", "Z");
  return Number.isInteger(value) ? formatCount(value) : value.toPrecision(4);
}

function histogram(summary: ColumnSummary, onPick: (filter: string) => void): HTMLElement {
  const bins = summary.bins ?? [];
  const max = Math.max(1, ...bins.map((b) => b.count));
  const bars = bins.map((bin) => {
    const bar = h("div", {
      class: "rj-bar",
      role: "button",
      title: `${label(bin.low)} … ${label(bin.high)}: ${formatCount(bin.count)} rows`,
      "data-filter": bin.filter,
    });
    bar.style.height = `${bin.count === 0 ? 0 : Math.max(2, (bin.count / max) * 100)}%`;
    bar.addEventListener("click", () => onPick(bin.filter));
    return h("div", { class: "rj-bar-slot" }, bar);
  });
  return h("div", { class: "rj-histogram" }, ...bars);
}

function topValues(summary: ColumnSummary, onPick: (filter: string) => void): HTMLElement {
  const values = summary.values ?? [];
  const total = values.reduce((n, v) => n + v.count, 0) + (summary.other ?? 0);
  const items = values.slice(0, 3).map((value) => {
    const item = h(
      "div",
      {
        class: "rj-top-value",
        role: "button",
        title: `${value.value}: ${formatCount(value.count)} rows`,
        "data-filter": value.filter,
      },
      h("span", { class: "rj-top-text" }, value.value),
      h("span", { class: "rj-top-count" }, formatCount(value.count)),
    );
    item.style.setProperty("--rj-share", `${total ? (value.count / total) * 100 : 0}%`);
    item.addEventListener("click", () => onPick(value.filter));
    return item;
  });
  return h("div", { class: "rj-top" }, ...items);
}

/** The summary cell of one column (an empty cell while its summary is not known). */
export function summaryCell(
  summary: ColumnSummary | undefined,
  onPick: (filter: string) => void,
): HTMLElement {
  if (!summary) return h("div", { class: "rj-summary rj-muted" }, "");
  const distinct =
    summary.distinct === null
      ? ""
      : `${summary.distinct_approx ? "≈" : ""}${formatCount(summary.distinct)} distinct`;
  const facts = [summary.nulls ? `${formatCount(summary.nulls)} null` : "", distinct]
    .filter(Boolean)
    .join(" · ");
  // A key-like column (every value once) has no frequent values worth a chart.
  const unique = summary.kind === "top" && (summary.values ?? []).every((v) => v.count === 1);
  const chart =
    summary.kind === "histogram"
      ? histogram(summary, onPick)
      : summary.kind === "top" && !unique
        ? topValues(summary, onPick)
        : h("div", { class: "rj-top" });
  return h(
    "div",
    { class: "rj-summary", "data-column": summary.column },
    chart,
    h("div", { class: "rj-summary-facts" }, facts),
  );
}
