/**
 * Pure formatting shared by the widgets: byte sizes, ETAs, counts, times, and table cells by
 * DuckDB type. No DOM here, so `npm test` runs it under plain Node.
 */

const BYTE_UNITS = ["B", "kB", "MB", "GB", "TB", "PB"] as const;

/** 1234 → "1.2 kB", 123456 → "123 kB" (SI units, as file managers show them). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1000) return `${Math.round(bytes)} B`;
  let unit = Math.min(Math.floor(Math.log10(bytes) / 3), BYTE_UNITS.length - 1);
  let value = bytes / 1000 ** unit;
  // 999_950 B rounds to "1000 kB": show it as "1.0 MB" instead.
  if (Math.round(value) >= 1000 && unit < BYTE_UNITS.length - 1) {
    unit += 1;
    value /= 1000;
  }
  const text = value < 10 ? value.toFixed(1) : String(Math.round(value));
  return `${text} ${BYTE_UNITS[unit]}`;
}

/** Seconds left → "<1s", "42s", "3m 05s", "2h 07m"; "" when unknown. */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return "";
  }
  if (seconds < 1) return "<1s";
  const total = Math.round(seconds);
  if (total < 60) return `${total}s`;
  if (total < 3600) {
    return `${Math.floor(total / 60)}m ${String(total % 60).padStart(2, "0")}s`;
  }
  const hours = Math.floor(total / 3600);
  if (hours >= 100) return `${hours}h`;
  return `${hours}h ${String(Math.floor((total % 3600) / 60)).padStart(2, "0")}m`;
}

/** 1234567 → "1,234,567". */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "";
}

/** 0.4567 → "45%" (never shows 100% before the end). */
export function formatPercent(estimate: number): string {
  const clamped = Math.min(1, Math.max(0, Number.isFinite(estimate) ? estimate : 0));
  return `${Math.floor(clamped * 100)}%`;
}

/** An ISO time relative to `nowMs`: "just now", "42s ago", "5 min ago", "3 h ago", or the date. */
export function formatSince(iso: string, nowMs: number): string {
  if (!iso) return "never";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.max(0, Math.round((nowMs - then) / 1000));
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(then).toISOString().slice(0, 10);
}

// --------------------------------------------------------------------------- table cells

/** How a column is shown, from its DuckDB type name. */
export type CellKind = "number" | "boolean" | "timestamp" | "date" | "nested" | "text";

const NUMERIC = new RegExp(
  "^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT" +
    "|INT\\d*|FLOAT\\d*|REAL|DOUBLE|DECIMAL|NUMERIC)\\b",
);

const FLOATING = /^\s*(DOUBLE|FLOAT|REAL)/i;

export function columnKind(duckType: string): CellKind {
  const type = duckType.trim().toUpperCase();
  if (/\[\d*\]$/.test(type) || /^(STRUCT|MAP|UNION|LIST)\b/.test(type)) return "nested";
  if (type.startsWith("TIMESTAMP")) return "timestamp";
  if (type === "DATE") return "date";
  if (type === "BOOLEAN" || type === "BOOL") return "boolean";
  if (NUMERIC.test(type)) return "number";
  return "text";
}

function isZoned(duckType: string): boolean {
  const type = duckType.toUpperCase();
  return type.includes("TIME ZONE") || type.startsWith("TIMESTAMPTZ");
}

/**
 * Epoch milliseconds (apache-arrow's timestamps, fractional for microseconds) → ISO-8601 with
 * as many fractional digits as needed: "2024-01-02T03:04:05.123456", "Z" appended when zoned.
 */
export function isoTimestamp(ms: number, zoned: boolean): string {
  let whole = Math.floor(ms);
  let micros = Math.round((ms - whole) * 1000);
  if (micros === 1000) {
    whole += 1;
    micros = 0;
  }
  const date = new Date(whole);
  if (Number.isNaN(date.getTime())) return String(ms);
  let text = date.toISOString().slice(0, -1); // without the "Z"
  if (micros) text += String(micros).padStart(3, "0");
  else if (text.endsWith(".000")) text = text.slice(0, -4);
  return zoned ? `${text}Z` : text;
}

/**
 * Arrow JS values → JSON-able values: bigint → number when exact (else its digits), Date →
 * ISO, bytes → "\x…" hex, and Vector/StructRow/MapRow through their toJSON.
 */
export function toPlain(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  if (typeof value !== "object" || depth > 32) return value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\x${hex(value)}`;
  if (ArrayBuffer.isView(value)) {
    return Array.from(value as unknown as ArrayLike<unknown>, (v) => toPlain(v, depth + 1));
  }
  if (Array.isArray(value)) return value.map((v) => toPlain(v, depth + 1));
  const toJSON = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJSON === "function") return toPlain(toJSON.call(value), depth + 1);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = toPlain(v, depth + 1);
  return out;
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Compact JSON of an Arrow value ("{"a":1,"b":[1,2]}"). */
export function compactJson(value: unknown): string {
  return JSON.stringify(toPlain(value)) ?? "null";
}

export interface Cell {
  text: string;
  kind: CellKind;
  isNull: boolean;
}

/** A value as its column's DuckDB type says to show it. */
export function formatCell(value: unknown, duckType: string): Cell {
  const kind = columnKind(duckType);
  if (value === null || value === undefined) return { text: "null", kind, isNull: true };
  return { text: cellText(value, kind, duckType), kind, isNull: false };
}

function cellText(value: unknown, kind: CellKind, duckType: string): string {
  switch (kind) {
    case "timestamp":
      if (typeof value === "number") return isoTimestamp(value, isZoned(duckType));
      if (typeof value === "bigint") return isoTimestamp(Number(value), isZoned(duckType));
      if (value instanceof Date) return isoTimestamp(value.getTime(), isZoned(duckType));
      return String(value);
    case "date":
      if (typeof value === "number" || value instanceof Date) {
        const date = new Date(typeof value === "number" ? value : value.getTime());
        return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().slice(0, 10);
      }
      return String(value);
    case "nested":
      return compactJson(value);
    case "number":
      // DuckDB shows floating point with a decimal point ("3.0"), integers without.
      if (typeof value === "number" && Number.isInteger(value) && FLOATING.test(duckType)) {
        return value.toFixed(1);
      }
      return String(value);
    case "boolean":
      return String(value);
    case "text":
      return typeof value === "object" ? compactJson(value) : String(value);
  }
}

const KIND_WIDTHS: Record<CellKind, number> = {
  number: 110,
  boolean: 70,
  timestamp: 230,
  date: 110,
  nested: 260,
  text: 180,
};

/** A column's starting width in px: by kind, widened so the header (name + type) fits. */
export function columnWidth(name: string, duckType: string): number {
  const header = (name.length + Math.min(duckType.length, 12)) * 7.5 + 40;
  return Math.round(Math.min(420, Math.max(KIND_WIDTHS[columnKind(duckType)], header)));
}

/** A subscription's query as people read it: "all Orders" for TRUEPREDICATE (Python twin:
 * realm_jupyter/magics/display.py describe_query). */
export function describeQuery(objectType: string, query: string): string {
  const text = query.trim();
  if (text === "" || text.toUpperCase() === "TRUEPREDICATE") {
    return `all ${objectType}${objectType.endsWith("s") ? "" : "s"}`;
  }
  return text;
}
