import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  Field,
  Int32,
  Int64,
  List,
  Struct,
  TimeUnit,
  Timestamp,
  Utf8,
  tableToIPC,
  Table,
  vectorFromArray,
} from "apache-arrow";

import { decodePage } from "../src/explorer";
import {
  columnKind,
  columnWidth,
  compactJson,
  describeQuery,
  formatBytes,
  formatCell,
  formatCount,
  formatEta,
  formatPercent,
  formatSince,
  isoTimestamp,
} from "../src/format";
import { progressSummary } from "../src/status";

describe("byte and ETA formatting", () => {
  test("bytes use SI units with one decimal below 10", () => {
    assert.equal(formatBytes(0), "0 B");
    assert.equal(formatBytes(999), "999 B");
    assert.equal(formatBytes(1234), "1.2 kB");
    assert.equal(formatBytes(123_456), "123 kB");
    assert.equal(formatBytes(5_600_000), "5.6 MB");
    assert.equal(formatBytes(2.5e9), "2.5 GB");
    assert.equal(formatBytes(1e18), "1000 PB");
  });

  test("a value that rounds up to 1000 moves to the next unit", () => {
    assert.equal(formatBytes(999_950), "1.0 MB");
  });

  test("nonsense byte counts show nothing", () => {
    assert.equal(formatBytes(-1), "");
    assert.equal(formatBytes(Number.NaN), "");
  });

  test("ETA", () => {
    assert.equal(formatEta(null), "");
    assert.equal(formatEta(undefined), "");
    assert.equal(formatEta(Number.POSITIVE_INFINITY), "");
    assert.equal(formatEta(0.3), "<1s");
    assert.equal(formatEta(42.4), "42s");
    assert.equal(formatEta(185), "3m 05s");
    assert.equal(formatEta(7620), "2h 07m");
    assert.equal(formatEta(400_000), "111h");
  });

  test("counts, percentages and relative times", () => {
    assert.equal(formatCount(1_234_567), "1,234,567");
    assert.equal(formatPercent(0.4567), "45%");
    assert.equal(formatPercent(0.999), "99%");
    assert.equal(formatPercent(1.5), "100%");
    const now = Date.parse("2026-11-29T12:00:00Z");
    assert.equal(formatSince("", now), "never");
    assert.equal(formatSince("2026-11-29T11:59:58Z", now), "just now");
    assert.equal(formatSince("2026-11-29T11:59:18Z", now), "42s ago");
    assert.equal(formatSince("2026-11-29T11:55:00Z", now), "5 min ago");
    assert.equal(formatSince("2026-11-29T09:00:00Z", now), "3 h ago");
    assert.equal(formatSince("2026-11-20T09:00:00Z", now), "2026-11-20");
    assert.equal(formatSince("garbage", now), "garbage");
  });

  test("progress summary", () => {
    const progress = {
      estimate: 0.25,
      rows: 1234,
      total_rows: 10_000,
      bytes: 1_200_000,
      eta_seconds: 12,
      phase: "bootstrap" as const,
    };
    assert.equal(
      progressSummary(progress),
      "downloading 25% · 1,234/10,000 rows · 1.2 MB · ETA 12s",
    );
    assert.equal(progressSummary({ ...progress, phase: "idle" }), "up to date");
    assert.equal(
      progressSummary({
        ...progress,
        phase: "catch_up",
        bytes: 0,
        eta_seconds: null,
        total_rows: 0,
      }),
      "catching up 25%",
    );
  });
});

describe("cells by DuckDB type", () => {
  test("column kinds", () => {
    for (const t of [
      "BIGINT",
      "INTEGER",
      "HUGEINT",
      "UBIGINT",
      "DOUBLE",
      "FLOAT",
      "DECIMAL(18,3)",
    ]) {
      assert.equal(columnKind(t), "number", t);
    }
    assert.equal(columnKind("INTERVAL"), "text");
    assert.equal(columnKind("TIMESTAMP"), "timestamp");
    assert.equal(columnKind("TIMESTAMP WITH TIME ZONE"), "timestamp");
    assert.equal(columnKind("TIMESTAMP_NS"), "timestamp");
    assert.equal(columnKind("DATE"), "date");
    assert.equal(columnKind("BOOLEAN"), "boolean");
    assert.equal(columnKind("STRUCT(a INTEGER, b VARCHAR)"), "nested");
    assert.equal(columnKind("BIGINT[]"), "nested");
    assert.equal(columnKind("VARCHAR[3]"), "nested");
    assert.equal(columnKind("MAP(VARCHAR, INTEGER)"), "nested");
    assert.equal(columnKind("VARCHAR"), "text");
    assert.equal(columnKind("UUID"), "text");
    assert.equal(columnKind("JSON"), "text");
  });

  test("null is a muted 'null' whatever the type", () => {
    assert.deepEqual(formatCell(null, "BIGINT"), { text: "null", kind: "number", isNull: true });
    assert.deepEqual(formatCell(undefined, "VARCHAR"), {
      text: "null",
      kind: "text",
      isNull: true,
    });
  });

  test("numbers keep full precision and are right-aligned kinds", () => {
    assert.deepEqual(formatCell(9007199254740993n, "BIGINT"), {
      text: "9007199254740993",
      kind: "number",
      isNull: false,
    });
    assert.equal(formatCell(1.5, "DOUBLE").text, "1.5");
    assert.equal(formatCell(3, "DOUBLE").text, "3.0");
    assert.equal(formatCell(3, "INTEGER").text, "3");
    assert.equal(formatCell(Number.NaN, "DOUBLE").text, "NaN");
    assert.equal(formatCell("12.345", "DECIMAL(18,3)").text, "12.345"); // decimals come as text
  });

  test("timestamps are ISO-8601 with microseconds when present", () => {
    assert.equal(isoTimestamp(1704164645123.456, false), "2024-01-02T03:04:05.123456");
    assert.equal(isoTimestamp(1704164645000, true), "2024-01-02T03:04:05Z");
    assert.equal(isoTimestamp(1704164645120, false), "2024-01-02T03:04:05.120");
    assert.equal(isoTimestamp(1704164645999.9996, false), "2024-01-02T03:04:06");
    assert.equal(formatCell(1704164645123.456, "TIMESTAMP").text, "2024-01-02T03:04:05.123456");
    assert.equal(
      formatCell(1704164645000, "TIMESTAMP WITH TIME ZONE").text,
      "2024-01-02T03:04:05Z",
    );
    assert.equal(formatCell(1704153600000, "DATE").text, "2024-01-02");
  });

  test("structs and lists are compact JSON; bigints inside become numbers", () => {
    const struct = vectorFromArray(
      [{ a: 1, b: "z" }],
      new Struct([new Field("a", new Int32()), new Field("b", new Utf8())]),
    );
    assert.equal(formatCell(struct.get(0), "STRUCT(a INTEGER, b VARCHAR)").text, '{"a":1,"b":"z"}');
    const list = vectorFromArray([[1n, 2n, 3n]], new List(new Field("l", new Int64())));
    assert.equal(formatCell(list.get(0), "BIGINT[]").text, "[1,2,3]");
    assert.equal(
      compactJson({ big: 2n ** 64n, bytes: new Uint8Array([1, 255]) }),
      '{"big":"18446744073709551616","bytes":"\\\\x01ff"}',
    );
  });

  test("column widths depend on kind and header length", () => {
    assert.equal(columnWidth("n", "INTEGER"), 110);
    assert.equal(columnWidth("flag", "BOOLEAN"), 123); // widened so "flag boolean" fits
    assert.ok(columnWidth("a_very_long_column_name_indeed", "VARCHAR") > 180);
    assert.ok(columnWidth("x".repeat(200), "VARCHAR") <= 420);
  });
});

describe("Arrow IPC pages", () => {
  test("decodePage reads an IPC stream into column vectors in model order", () => {
    const full = new Table({
      id: vectorFromArray([1, 2, 3], new Int32()),
      ts: vectorFromArray([1704164645123, null, 0], new Timestamp(TimeUnit.MILLISECOND)),
    });
    const bytes = tableToIPC(full, "stream");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const page = decodePage(view, [
      { name: "ts", type: "TIMESTAMP" },
      { name: "id", type: "INTEGER" },
      { name: "missing", type: "VARCHAR" },
    ]);
    assert.equal(page.rows, 3);
    assert.equal(formatCell(page.columns[0]?.get(0), "TIMESTAMP").text, "2024-01-02T03:04:05.123");
    assert.equal(formatCell(page.columns[0]?.get(1), "TIMESTAMP").text, "null");
    assert.equal(page.columns[1]?.get(2), 3);
    assert.equal(page.columns[2], null);
  });
});

describe("describeQuery", () => {
  test("TRUEPREDICATE reads as all of a type", () => {
    assert.equal(describeQuery("Order", "TRUEPREDICATE"), "all Orders");
    assert.equal(describeQuery("Order", " truepredicate "), "all Orders");
    assert.equal(describeQuery("Status", ""), "all Status");
  });
  test("other queries are shown as written", () => {
    assert.equal(describeQuery("Item", "status == 'open'"), "status == 'open'");
  });
});
