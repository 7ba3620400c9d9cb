/**
 * The pure parts of the data explorer's virtual scrolling: which rows are on screen, which pages
 * hold them, a bounded LRU of pages, and the header click → sort cycle. No DOM here.
 */

/**
 * Browsers cap an element's height (about 33.5M px in Chromium and Safari, 17.9M in Firefox),
 * so 10M rows × 24 px cannot be one spacer. Past this height the scrollbar is scaled: its
 * position maps proportionally onto the rows.
 */
export const MAX_SCROLL_HEIGHT = 15_000_000;

export interface LayoutInput {
  /** scrollTop of the scroller, in spacer pixels. */
  scrollTop: number;
  /** Height of the part of the scroller that shows rows (below the sticky header). */
  viewportHeight: number;
  rowHeight: number;
  totalRows: number;
  /** Rows rendered above and below the visible ones. */
  overscan: number;
  maxScrollHeight?: number;
}

export interface Layout {
  /** Height to give the spacer: the scrollbar's full extent. */
  spacerHeight: number;
  /** First row to render (inclusive). */
  start: number;
  /** Row after the last to render (exclusive). */
  end: number;
  /** Where row `start` goes, in spacer pixels (translateY of the rows layer). */
  offsetY: number;
}

export function computeLayout(input: LayoutInput): Layout {
  const { viewportHeight, rowHeight, overscan } = input;
  const total = Math.max(0, Math.floor(input.totalRows));
  const contentHeight = total * rowHeight;
  const spacerHeight = Math.min(contentHeight, input.maxScrollHeight ?? MAX_SCROLL_HEIGHT);
  const scrollable = Math.max(0, spacerHeight - viewportHeight);
  const contentScrollable = Math.max(0, contentHeight - viewportHeight);
  const scrollTop = Math.min(Math.max(0, input.scrollTop), scrollable);
  // Content pixel at the top of the viewport (equal to scrollTop when nothing is scaled).
  const virtualTop = scrollable > 0 ? scrollTop * (contentScrollable / scrollable) : 0;
  const first = Math.floor(virtualTop / rowHeight);
  const start = Math.max(0, first - overscan);
  const end = Math.min(total, Math.ceil((virtualTop + viewportHeight) / rowHeight) + overscan);
  const offsetY = scrollTop + start * rowHeight - virtualTop;
  return { spacerHeight, start, end: Math.max(start, end), offsetY };
}

/** Indexes of the pages of `pageSize` rows that hold rows `start .. end` (end exclusive). */
export function pagesForRange(start: number, end: number, pageSize: number): number[] {
  if (end <= start || pageSize < 1) return [];
  const pages: number[] = [];
  for (let page = Math.floor(start / pageSize); page * pageSize < end; page++) pages.push(page);
  return pages;
}

/** A Map bounded to `capacity` entries that forgets the least recently used one. */
export class LruCache<K, V> {
  readonly #entries = new Map<K, V>();
  readonly capacity: number;

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be >= 1, not ${capacity}`);
    this.capacity = Math.floor(capacity);
  }

  get size(): number {
    return this.#entries.size;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** The value, marked as just used. */
  get(key: K): V | undefined {
    if (!this.#entries.has(key)) return undefined;
    const value = this.#entries.get(key) as V;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    while (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value as K;
      this.#entries.delete(oldest);
    }
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Keys, least recently used first. */
  keys(): K[] {
    return [...this.#entries.keys()];
  }
}

/** Mirrors one entry of the `sort` trait of DataExplorer. */
export interface SortKey {
  column: string;
  ascending: boolean;
}

/**
 * The sort after a click on `column`'s header: ascending → descending → unsorted.
 * A plain click sorts by that column alone; with `additive` (shift-click) the column is
 * appended as a further key, or cycles where it stands.
 */
export function cycleSort(sort: readonly SortKey[], column: string, additive: boolean): SortKey[] {
  const index = sort.findIndex((key) => key.column === column);
  const current = index >= 0 ? sort[index] : undefined;
  if (!additive) {
    if (sort.length === 1 && current) {
      return current.ascending ? [{ column, ascending: false }] : [];
    }
    return [{ column, ascending: true }];
  }
  if (!current) return [...sort, { column, ascending: true }];
  if (current.ascending) {
    return sort.map((key, i) => (i === index ? { column, ascending: false } : key));
  }
  return sort.filter((_, i) => i !== index);
}

/** A `page` request the explorer sends to Python. */
export interface PageRequest {
  kind: "page";
  request_id: string;
  offset: number;
  limit: number;
}

/** Python's answer; one buffer (an Arrow IPC stream) comes with it unless `error` is set. */
export interface PageReply {
  kind: "page";
  request_id: string;
  offset: number;
  rows: number;
  revision: number;
  error?: string;
}

/**
 * The explorer's pages: an LRU of decoded pages of `pageSize` rows, the requests in flight, and
 * the revision they belong to. `reset` (on every revision bump) forgets all of it; replies to
 * forgotten requests or tagged with another revision are dropped, and the rows are asked again.
 */
export class PageStore<T extends { rows: number }> {
  readonly #cache: LruCache<number, T>;
  readonly #inflight = new Map<string, number>(); // request id → page index
  readonly #requested = new Set<number>();
  readonly #failed = new Map<number, string>();
  #revision: number;
  #pageSize: number;
  #held = false;

  constructor(
    pageSize: number,
    capacity: number,
    revision: number,
    private readonly send: (msg: PageRequest) => void,
    private readonly nextId: () => string,
    /** Requests on their way at once; pages passed while they travel are never asked for. */
    private readonly maxInflight = Number.POSITIVE_INFINITY,
  ) {
    this.#cache = new LruCache(capacity);
    this.#pageSize = pageSize;
    this.#revision = revision;
  }

  get revision(): number {
    return this.#revision;
  }

  get pageSize(): number {
    return this.#pageSize;
  }

  /**
   * Forget every page. With `hold`, ask for nothing until the next reset: used when the view
   * changed the sort and Python's revision bump is on its way.
   */
  reset(revision: number, pageSize = this.#pageSize, hold = false): void {
    this.#cache.clear();
    this.#inflight.clear();
    this.#requested.clear();
    this.#failed.clear();
    this.#revision = revision;
    this.#pageSize = pageSize;
    this.#held = hold;
  }

  /** Request the pages holding rows `start .. end` that are neither cached nor on their way. */
  need(start: number, end: number): number {
    if (this.#held) return 0;
    let sent = 0;
    for (const page of pagesForRange(start, end, this.#pageSize)) {
      if (this.#cache.has(page) || this.#requested.has(page) || this.#failed.has(page)) continue;
      if (this.#inflight.size >= this.maxInflight) break;
      const id = this.nextId();
      this.#inflight.set(id, page);
      this.#requested.add(page);
      this.send({
        kind: "page",
        request_id: id,
        offset: page * this.#pageSize,
        limit: this.#pageSize,
      });
      sent++;
    }
    return sent;
  }

  /** Take a reply; `decode` runs only when it is kept. True when it was one of ours. */
  accept(reply: PageReply, decode: () => T): boolean {
    const page = this.#inflight.get(reply.request_id);
    if (page === undefined) return false;
    this.#inflight.delete(reply.request_id);
    this.#requested.delete(page);
    if (reply.revision !== this.#revision) return true; // stale: the next draw asks again
    if (reply.error) this.#failed.set(page, reply.error);
    else this.#cache.set(page, decode());
    return true;
  }

  /** The cached page holding row `row` and the row's index in it. */
  locate(row: number): { page: T; index: number } | undefined {
    const pageIndex = Math.floor(row / this.#pageSize);
    const page = this.#cache.get(pageIndex);
    const index = row - pageIndex * this.#pageSize;
    return page && index < page.rows ? { page, index } : undefined;
  }

  /** Why a page could not be read, if one could not. */
  get error(): string | undefined {
    return this.#failed.values().next().value;
  }

  get cachedPages(): number[] {
    return this.#cache.keys();
  }

  get inflight(): number {
    return this.#inflight.size;
  }
}
