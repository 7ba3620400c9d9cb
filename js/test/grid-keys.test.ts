import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  type KeyInput,
  type Selection,
  keyAction,
  scrollTopFor,
  selectionRange,
  selectionTsv,
} from "../src/grid-keys";

const bounds = { rows: 1000, cols: 5, pageRows: 10 };
const at = (row: number, col: number): Selection => ({
  anchor: { row, col },
  cursor: { row, col },
});
const key = (name: string, mods: Partial<KeyInput> = {}): KeyInput => ({
  key: name,
  shiftKey: false,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  ...mods,
});
const moved = (name: string, from: Selection, mods: Partial<KeyInput> = {}): Selection => {
  const action = keyAction(key(name, mods), from, bounds);
  assert.equal(action.kind, "move", name);
  return (action as { selection: Selection }).selection;
};

describe("cursor keys", () => {
  test("arrows move one cell and stop at the edges", () => {
    assert.deepEqual(moved("ArrowDown", at(3, 2)).cursor, { row: 4, col: 2 });
    assert.deepEqual(moved("ArrowUp", at(0, 2)).cursor, { row: 0, col: 2 });
    assert.deepEqual(moved("ArrowRight", at(3, 4)).cursor, { row: 3, col: 4 });
    assert.deepEqual(moved("ArrowLeft", at(3, 1)).cursor, { row: 3, col: 0 });
  });

  test("page keys move a screenful, Home/End the row, Ctrl+Home/End the table", () => {
    assert.deepEqual(moved("PageDown", at(3, 1)).cursor, { row: 13, col: 1 });
    assert.deepEqual(moved("PageUp", at(3, 1)).cursor, { row: 0, col: 1 });
    assert.deepEqual(moved("PageDown", at(995, 1)).cursor, { row: 999, col: 1 });
    assert.deepEqual(moved("Home", at(7, 3)).cursor, { row: 7, col: 0 });
    assert.deepEqual(moved("End", at(7, 1)).cursor, { row: 7, col: 4 });
    assert.deepEqual(moved("End", at(7, 1), { ctrlKey: true }).cursor, { row: 999, col: 4 });
    assert.deepEqual(moved("Home", at(7, 1), { metaKey: true }).cursor, { row: 0, col: 0 });
  });

  test("a plain move collapses the selection, Shift extends it from the anchor", () => {
    const extended = moved("ArrowDown", moved("ArrowRight", at(2, 1), { shiftKey: true }), {
      shiftKey: true,
    });
    assert.deepEqual(extended, { anchor: { row: 2, col: 1 }, cursor: { row: 3, col: 2 } });
    assert.deepEqual(selectionRange(extended, bounds), { top: 2, bottom: 3, left: 1, right: 2 });
    assert.deepEqual(moved("ArrowDown", extended), at(4, 2));
    assert.deepEqual(moved("Escape", extended), at(3, 2));
  });

  test("whole rows, whole columns and everything", () => {
    const rows = moved(" ", at(5, 2), { shiftKey: true });
    assert.deepEqual(selectionRange(rows, bounds), { top: 5, bottom: 5, left: 0, right: 4 });
    const cols = moved(" ", at(5, 2), { ctrlKey: true });
    assert.deepEqual(selectionRange(cols, bounds), { top: 0, bottom: 999, left: 2, right: 2 });
    const all = moved("a", at(5, 2), { ctrlKey: true });
    assert.deepEqual(selectionRange(all, bounds), { top: 0, bottom: 999, left: 0, right: 4 });
  });

  test("Ctrl+C and Cmd+C copy; letters the grid does not use are not its business", () => {
    assert.deepEqual(keyAction(key("c", { ctrlKey: true }), at(0, 0), bounds), { kind: "copy" });
    assert.deepEqual(keyAction(key("C", { metaKey: true }), at(0, 0), bounds), { kind: "copy" });
    assert.deepEqual(keyAction(key("b"), at(0, 0), bounds), { kind: "none" });
    assert.deepEqual(keyAction(key("ArrowDown"), at(0, 0), { ...bounds, rows: 0 }), {
      kind: "none",
    });
  });
});

describe("selection text", () => {
  const cell = (row: number, col: number): string => `r${row}c${col}`;
  test("one line per row, cells separated by tabs, the header only for whole columns", () => {
    const range = { top: 1, bottom: 2, left: 0, right: 1 };
    assert.equal(selectionTsv(range, ["a", "b", "c"], cell, false), "r1c0\tr1c1\nr2c0\tr2c1");
    assert.equal(selectionTsv(range, ["a", "b", "c"], cell, true), "a\tb\nr1c0\tr1c1\nr2c0\tr2c1");
  });

  test("tabs and line breaks inside a value become spaces", () => {
    const range = { top: 0, bottom: 0, left: 0, right: 0 };
    assert.equal(selectionTsv(range, ["a"], () => "x\ty\r\nz", false), "x y z");
  });
});

describe("keeping the cursor in view", () => {
  test("rows above or below the viewport scroll it; visible rows do not", () => {
    assert.equal(scrollTopFor(5, 0, 240, 24, 1), undefined);
    assert.equal(scrollTopFor(20, 0, 240, 24, 1), 21 * 24 - 240);
    assert.equal(scrollTopFor(2, 240, 240, 24, 1), 48);
  });

  test("a scaled scrollbar maps content pixels to scrollbar pixels", () => {
    assert.equal(scrollTopFor(1_000_000, 0, 240, 24, 0.5), (1_000_001 * 24 - 240) * 0.5);
  });
});
