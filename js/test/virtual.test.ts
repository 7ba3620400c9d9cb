import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  LruCache,
  type PageRequest,
  PageStore,
  computeLayout,
  cycleSort,
  pagesForRange,
} from "../src/virtual";

const base = { viewportHeight: 240, rowHeight: 24, overscan: 2 };

describe("visible range", () => {
  test("top of a short table", () => {
    const layout = computeLayout({ ...base, scrollTop: 0, totalRows: 100 });
    assert.deepEqual(layout, { spacerHeight: 2400, start: 0, end: 12, offsetY: 0 });
  });

  test("scrolled into the middle: overscan on both sides, rows placed at their offset", () => {
    const layout = computeLayout({ ...base, scrollTop: 24 * 50 + 10, totalRows: 100 });
    assert.equal(layout.start, 48);
    assert.equal(layout.end, 63); // rows 50..60 visible (61 partly) + 2
    assert.equal(layout.offsetY, 48 * 24);
  });

  test("the end is clamped to the row count", () => {
    const layout = computeLayout({ ...base, scrollTop: 1e9, totalRows: 100 });
    assert.equal(layout.end, 100);
    assert.equal(layout.start, 88);
  });

  test("fewer rows than the viewport, and none", () => {
    assert.deepEqual(computeLayout({ ...base, scrollTop: 0, totalRows: 3 }), {
      spacerHeight: 72,
      start: 0,
      end: 3,
      offsetY: 0,
    });
    assert.deepEqual(computeLayout({ ...base, scrollTop: 50, totalRows: 0 }), {
      spacerHeight: 0,
      start: 0,
      end: 0,
      offsetY: 0,
    });
  });

  test("millions of rows: the spacer is capped and the scrollbar maps proportionally", () => {
    const totalRows = 10_000_000;
    const max = 15_000_000;
    const top = computeLayout({ ...base, scrollTop: 0, totalRows, maxScrollHeight: max });
    assert.equal(top.spacerHeight, max);
    assert.equal(top.start, 0);
    const bottom = computeLayout({ ...base, scrollTop: max, totalRows, maxScrollHeight: max });
    assert.equal(bottom.end, totalRows);
    assert.equal(bottom.start, totalRows - 10 - 2);
    // The last row's bottom edge sits exactly at the bottom of the viewport.
    const lastRowBottom = bottom.offsetY + (bottom.end - bottom.start) * 24;
    assert.ok(Math.abs(lastRowBottom - max) < 1e-3, String(lastRowBottom));
    const middle = computeLayout({
      ...base,
      scrollTop: (max - 240) / 2,
      totalRows,
      maxScrollHeight: max,
    });
    assert.ok(Math.abs(middle.start + 2 - (totalRows - 10) / 2) <= 1, String(middle.start));
    // Rendered rows always cover the viewport.
    assert.ok(middle.offsetY <= (max - 240) / 2);
    assert.ok(middle.offsetY + (middle.end - middle.start) * 24 >= (max - 240) / 2 + 240);
  });

  test("pages holding a range", () => {
    assert.deepEqual(pagesForRange(0, 10, 200), [0]);
    assert.deepEqual(pagesForRange(190, 210, 200), [0, 1]);
    assert.deepEqual(pagesForRange(400, 400, 200), []);
    assert.deepEqual(pagesForRange(399, 801, 200), [1, 2, 3, 4]);
  });
});

describe("LRU page cache", () => {
  test("evicts the least recently used entry", () => {
    const cache = new LruCache<number, string>(2);
    cache.set(1, "a");
    cache.set(2, "b");
    assert.equal(cache.get(1), "a"); // 1 is now the most recent
    cache.set(3, "c");
    assert.deepEqual(cache.keys(), [1, 3]);
    assert.equal(cache.get(2), undefined);
    cache.set(1, "a2");
    assert.deepEqual(cache.keys(), [3, 1]);
    assert.equal(cache.size, 2);
    cache.clear();
    assert.equal(cache.size, 0);
  });

  test("rejects a capacity below one", () => {
    assert.throws(() => new LruCache(0), RangeError);
  });
});

function store(capacity = 4, revision = 1) {
  const sent: PageRequest[] = [];
  let n = 0;
  const pages = new PageStore<{ rows: number; page: number }>(
    100,
    capacity,
    revision,
    (msg) => sent.push(msg),
    () => `r${++n}`,
  );
  return { pages, sent };
}

describe("page store", () => {
  test("asks once per missing page and serves rows from the pages it got", () => {
    const { pages, sent } = store();
    assert.equal(pages.need(150, 260), 2);
    assert.deepEqual(
      sent.map((m) => [m.request_id, m.offset, m.limit]),
      [
        ["r1", 100, 100],
        ["r2", 200, 100],
      ],
    );
    assert.equal(pages.need(150, 260), 0, "in flight: not asked again");
    assert.ok(
      pages.accept({ kind: "page", request_id: "r1", offset: 100, rows: 100, revision: 1 }, () => ({
        rows: 100,
        page: 1,
      })),
    );
    assert.deepEqual(pages.locate(150), { page: { rows: 100, page: 1 }, index: 50 });
    assert.equal(pages.locate(250), undefined);
    assert.equal(pages.need(150, 260), 0);
  });

  test("a short last page does not invent rows", () => {
    const { pages } = store();
    pages.need(0, 10);
    pages.accept({ kind: "page", request_id: "r1", offset: 0, rows: 5, revision: 1 }, () => ({
      rows: 5,
      page: 0,
    }));
    assert.ok(pages.locate(4));
    assert.equal(pages.locate(5), undefined);
  });

  test("replies to forgotten requests or of another revision are dropped", () => {
    const { pages, sent } = store();
    pages.need(0, 10);
    pages.reset(2);
    let decoded = 0;
    const decode = () => {
      decoded++;
      return { rows: 100, page: 0 };
    };
    assert.equal(
      pages.accept({ kind: "page", request_id: "r1", offset: 0, rows: 100, revision: 1 }, decode),
      false,
    );
    pages.need(0, 10);
    assert.equal(sent.length, 2);
    assert.ok(
      pages.accept({ kind: "page", request_id: "r2", offset: 0, rows: 100, revision: 1 }, decode),
    );
    assert.equal(decoded, 0, "stale revision: not decoded");
    assert.equal(pages.locate(0), undefined);
    assert.equal(pages.need(0, 10), 1, "asked again");
  });

  test("the cache stays bounded", () => {
    const { pages } = store(3);
    for (let p = 0; p < 10; p++) {
      pages.need(p * 100, p * 100 + 1);
      pages.accept(
        { kind: "page", request_id: `r${p + 1}`, offset: p * 100, rows: 100, revision: 1 },
        () => ({ rows: 100, page: p }),
      );
    }
    assert.deepEqual(pages.cachedPages, [7, 8, 9]);
  });

  test("a failed page is reported and not retried until the next reset", () => {
    const { pages } = store();
    pages.need(0, 10);
    pages.accept(
      { kind: "page", request_id: "r1", offset: 0, rows: 0, revision: 1, error: "boom" },
      () => ({ rows: 0, page: 0 }),
    );
    assert.equal(pages.error, "boom");
    assert.equal(pages.need(0, 10), 0);
    pages.reset(2);
    assert.equal(pages.error, undefined);
    assert.equal(pages.need(0, 10), 1);
  });

  test("a held store asks for nothing until reset", () => {
    const { pages } = store();
    pages.reset(1, 100, true);
    assert.equal(pages.need(0, 10), 0);
    pages.reset(2, 50);
    assert.equal(pages.pageSize, 50);
    assert.equal(pages.need(0, 60), 2);
  });
});

describe("sort cycle", () => {
  test("a plain click: ascending, descending, unsorted", () => {
    let sort = cycleSort([], "a", false);
    assert.deepEqual(sort, [{ column: "a", ascending: true }]);
    sort = cycleSort(sort, "a", false);
    assert.deepEqual(sort, [{ column: "a", ascending: false }]);
    assert.deepEqual(cycleSort(sort, "a", false), []);
  });

  test("a plain click on another column sorts by it alone", () => {
    const sort = [
      { column: "a", ascending: true },
      { column: "b", ascending: false },
    ];
    assert.deepEqual(cycleSort(sort, "b", false), [{ column: "b", ascending: true }]);
    assert.deepEqual(cycleSort(sort, "c", false), [{ column: "c", ascending: true }]);
  });

  test("shift-click adds keys and cycles them in place", () => {
    let sort = cycleSort([{ column: "a", ascending: true }], "b", true);
    assert.deepEqual(sort, [
      { column: "a", ascending: true },
      { column: "b", ascending: true },
    ]);
    sort = cycleSort(sort, "a", true);
    assert.deepEqual(sort, [
      { column: "a", ascending: false },
      { column: "b", ascending: true },
    ]);
    assert.deepEqual(cycleSort(sort, "a", true), [{ column: "b", ascending: true }]);
  });
});

describe("bounded page requests", () => {
  test("a fast drag asks only for where the view is when a reply lands", () => {
    const sent: PageRequest[] = [];
    let n = 0;
    const pages = new PageStore<{ rows: number }>(100, 16, 1, (m) => sent.push(m), () => `r${++n}`, 2);
    // the view passes over pages 0..9 while the first two requests travel
    for (let row = 0; row < 1000; row += 100) pages.need(row, row + 20);
    assert.deepEqual(
      sent.map((m) => m.offset),
      [0, 100],
      "only two on their way; passed pages are never requested",
    );
    pages.accept({ kind: "page", request_id: "r1", offset: 0, rows: 100, revision: 1 }, () => ({
      rows: 100,
    }));
    pages.need(900, 920); // where the drag stopped
    assert.deepEqual(
      sent.map((m) => m.offset),
      [0, 100, 900],
    );
  });
});
