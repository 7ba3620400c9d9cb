import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { countText } from "../src/explorer";
import { narrowFilter } from "../src/explorer-summaries";

describe("what the explorer says it shows", () => {
  test("N of M rows when a filter narrows the type", () => {
    assert.equal(countText(6, 2654, true), "6 of 2,654 rows");
    assert.equal(countText(2654, 2654, false), "2,654 rows");
    assert.equal(countText(1, 1, false), "1 row");
    assert.equal(countText(0, 1, true), "0 of 1 row");
  });

  test("a click on a bar narrows the current filter", () => {
    assert.equal(narrowFilter("", "x >= 1 AND x < 2"), "x >= 1 AND x < 2");
    assert.equal(narrowFilter("a == 1 OR b == 2", "x == 'y'"), "(a == 1 OR b == 2) AND x == 'y'");
  });
});
