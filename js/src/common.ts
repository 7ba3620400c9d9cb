/**
 * Small helpers the three widgets share: debouncing (with injectable timers, so it is tested
 * without waiting), request ids, the caret snippet under a bad query token, and DOM building.
 */

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface Debounced<A extends unknown[]> {
  (...args: A): void;
  /** Drop the pending call. */
  cancel(): void;
  /** Run the pending call now, if any. */
  flush(): void;
  pending(): boolean;
}

/** `fn` called `ms` after the last of a burst of calls, with that last call's arguments. */
export function debounce<A extends unknown[]>(
  fn: (...args: A) => void,
  ms: number,
  timers: Timers = realTimers,
): Debounced<A> {
  let handle: unknown = null;
  let lastArgs: A | null = null;
  const run = (): void => {
    const args = lastArgs;
    handle = null;
    lastArgs = null;
    if (args) fn(...args);
  };
  const debounced = ((...args: A): void => {
    lastArgs = args;
    if (handle !== null) timers.clear(handle);
    handle = timers.set(run, ms);
  }) as Debounced<A>;
  debounced.cancel = () => {
    if (handle !== null) timers.clear(handle);
    handle = null;
    lastArgs = null;
  };
  debounced.flush = () => {
    if (handle === null) return;
    timers.clear(handle);
    run();
  };
  debounced.pending = () => handle !== null;
  return debounced;
}

/**
 * Unique request ids for one view: "<random>:<n>". Several views of one model all receive every
 * reply, so each keeps only the replies to its own requests.
 */
export function requestIds(): () => string {
  const prefix = Math.random().toString(36).slice(2, 10);
  let n = 0;
  return () => `${prefix}:${++n}`;
}

export interface Snippet {
  /** The line of the query holding the position, cut to a window around it ("…" marks cuts). */
  line: string;
  /** Index of the bad token in `line`. */
  column: number;
  /** Length of the bad token (up to the next space; 0 at the end of the text). */
  length: number;
}

/** Where to draw the caret under `text` for a 0-based `position` (null when there is none). */
export function caretSnippet(
  text: string,
  position: number | null | undefined,
  width = 80,
): Snippet | null {
  if (position === null || position === undefined || !(position >= 0)) return null;
  const pos = Math.min(Math.floor(position), text.length);
  const lineStart = pos === 0 ? 0 : text.lastIndexOf("\n", pos - 1) + 1;
  const newline = text.indexOf("\n", pos);
  const lineEnd = newline < 0 ? text.length : newline;
  let line = text.slice(lineStart, lineEnd);
  let column = pos - lineStart;
  const length = /^\S*/.exec(line.slice(column))?.[0].length ?? 0;
  if (line.length > width) {
    const from = Math.max(0, Math.min(column - Math.floor(width / 2), line.length - width));
    const head = from > 0 ? "…" : "";
    const tail = from + width < line.length ? "…" : "";
    line = head + line.slice(from, from + width) + tail;
    column = column - from + head.length;
  }
  return { line, column, length: Math.min(length, line.length - column) };
}

// --------------------------------------------------------------------------- DOM

type Child = Node | string | null | undefined | false;

/** `h("div", {class: "x", title: "y"}, child, "text")` → an element. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | null | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/** The query line with the bad token underlined and a caret under it, as DOM. */
export function caretView(text: string, position: number | null | undefined): HTMLElement | null {
  const snippet = caretSnippet(text, position);
  if (!snippet) return null;
  const { line, column, length } = snippet;
  return h(
    "pre",
    { class: "rj-caret" },
    line.slice(0, column),
    h("span", { class: "rj-bad" }, line.slice(column, column + length)),
    line.slice(column + length),
    `\n${" ".repeat(column)}^`,
  );
}

/** Put the widgets' stylesheet inside `el` (works in shadow roots too, e.g. marimo). */
export function injectStyles(el: HTMLElement, css: string): void {
  el.append(h("style", {}, css));
}
