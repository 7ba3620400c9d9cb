/**
 * The explorer's keyboard model: a cell cursor, a rectangular selection, what each key does to
 * them, and the selection as TSV. No DOM here (explorer.ts wires it to the grid).
 *
 * Keys the grid handles never reach JupyterLab: with the grid focused, `b` or `d d` would
 * otherwise edit the notebook and the arrows move its active cell.
 */

/** A cell of the grid: a row of the (filtered, sorted) view and a column index. */
export interface Cell {
  row: number;
  col: number;
}

/**
 * A selection: `anchor` is where it started, `cursor` the cell that moves. `wholeRows` /
 * `wholeColumns` widen it to every column / every row (a click on the row number, Ctrl+Space).
 */
export interface Selection {
  anchor: Cell;
  cursor: Cell;
  wholeRows?: boolean;
  wholeColumns?: boolean;
}

/** The grid's extent and how many rows a page key moves. */
export interface Bounds {
  rows: number;
  cols: number;
  pageRows: number;
}

/** The inclusive rectangle a selection covers. */
export interface Range {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export function clampCell(cell: Cell, bounds: Bounds): Cell {
  return {
    row: Math.min(Math.max(0, cell.row), Math.max(0, bounds.rows - 1)),
    col: Math.min(Math.max(0, cell.col), Math.max(0, bounds.cols - 1)),
  };
}

export function selectionRange(selection: Selection, bounds: Bounds): Range {
  const { anchor, cursor } = selection;
  const range = {
    top: Math.min(anchor.row, cursor.row),
    bottom: Math.max(anchor.row, cursor.row),
    left: Math.min(anchor.col, cursor.col),
    right: Math.max(anchor.col, cursor.col),
  };
  if (selection.wholeRows) Object.assign(range, { left: 0, right: bounds.cols - 1 });
  if (selection.wholeColumns) Object.assign(range, { top: 0, bottom: bounds.rows - 1 });
  return range;
}

export function contains(range: Range, row: number, col: number): boolean {
  return row >= range.top && row <= range.bottom && col >= range.left && col <= range.right;
}

/** The subset of a KeyboardEvent the model reads. */
export interface KeyInput {
  key: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
}

/** What a key does: a new selection, a copy, or nothing the grid handles. */
export type KeyAction =
  | { kind: "move"; selection: Selection }
  | { kind: "copy" }
  | { kind: "none" };

/**
 * The action for a key pressed with the grid focused. Arrows move the cursor, PageUp/PageDown
 * by a screenful, Home/End to the first/last column, Ctrl+Home/End to the first/last row;
 * with Shift they extend the selection. Ctrl+C (Cmd+C) copies, Ctrl+A selects everything,
 * Shift+Space the cursor's rows, Ctrl+Space its columns, Escape collapses to the cursor.
 */
export function keyAction(event: KeyInput, selection: Selection, bounds: Bounds): KeyAction {
  const command = event.ctrlKey || event.metaKey;
  if (bounds.rows === 0 || bounds.cols === 0) {
    return command && event.key.toLowerCase() === "c" ? { kind: "copy" } : { kind: "none" };
  }
  const { cursor } = selection;
  const last = { row: bounds.rows - 1, col: bounds.cols - 1 };
  let target: Cell | undefined;
  switch (event.key) {
    case "ArrowUp":
      target = command ? { row: 0, col: cursor.col } : { row: cursor.row - 1, col: cursor.col };
      break;
    case "ArrowDown":
      target = command
        ? { row: last.row, col: cursor.col }
        : { row: cursor.row + 1, col: cursor.col };
      break;
    case "ArrowLeft":
      target = command ? { row: cursor.row, col: 0 } : { row: cursor.row, col: cursor.col - 1 };
      break;
    case "ArrowRight":
      target = command
        ? { row: cursor.row, col: last.col }
        : { row: cursor.row, col: cursor.col + 1 };
      break;
    case "PageUp":
      target = { row: cursor.row - Math.max(1, bounds.pageRows), col: cursor.col };
      break;
    case "PageDown":
      target = { row: cursor.row + Math.max(1, bounds.pageRows), col: cursor.col };
      break;
    case "Home":
      target = command ? { row: 0, col: 0 } : { row: cursor.row, col: 0 };
      break;
    case "End":
      target = command ? last : { row: cursor.row, col: last.col };
      break;
    case "Escape":
      return { kind: "move", selection: { anchor: cursor, cursor } };
    case " ":
      if (event.shiftKey && !command) return { kind: "move", selection: { ...selection, wholeRows: true } };
      if (command) return { kind: "move", selection: { ...selection, wholeColumns: true } };
      return { kind: "none" };
    default:
      if (command && event.key.toLowerCase() === "c") return { kind: "copy" };
      if (command && event.key.toLowerCase() === "a") {
        return {
          kind: "move",
          selection: { anchor: { row: 0, col: 0 }, cursor: last, wholeRows: true, wholeColumns: true },
        };
      }
      return { kind: "none" };
  }
  const moved = clampCell(target, bounds);
  if (event.shiftKey) return { kind: "move", selection: { ...selection, cursor: moved } };
  return { kind: "move", selection: { anchor: moved, cursor: moved } };
}

/** One cell's text in TSV: tabs and line breaks would split it, so they become spaces. */
function tsvCell(text: string): string {
  return text.replace(/[\t\r\n]+/g, " ");
}

/**
 * The selected cells as TSV, one line per row; `header` adds the column names first (a
 * selection of whole columns). `cellText(row, col)` gives what the grid shows in that cell.
 */
export function selectionTsv(
  range: Range,
  columns: readonly string[],
  cellText: (row: number, col: number) => string,
  header: boolean,
): string {
  const lines: string[] = [];
  if (header) lines.push(columns.slice(range.left, range.right + 1).map(tsvCell).join("\t"));
  for (let row = range.top; row <= range.bottom; row++) {
    const cells: string[] = [];
    for (let col = range.left; col <= range.right; col++) cells.push(tsvCell(cellText(row, col)));
    lines.push(cells.join("\t"));
  }
  return lines.join("\n");
}

/**
 * The scrollTop that brings `row` into view, or undefined when it already is. `scale` maps
 * content pixels to scrollbar pixels (1 unless millions of rows scale the scrollbar).
 */
export function scrollTopFor(
  row: number,
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  scale: number,
): number | undefined {
  const virtualTop = scrollTop / scale;
  const rowTop = row * rowHeight;
  if (rowTop < virtualTop) return rowTop * scale;
  if (rowTop + rowHeight > virtualTop + viewportHeight) {
    return (rowTop + rowHeight - viewportHeight) * scale;
  }
  return undefined;
}
