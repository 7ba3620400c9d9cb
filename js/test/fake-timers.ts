import type { Timers } from "../src/common";

/** Deterministic timers: nothing runs until `advance` moves the clock past it. */
export class FakeTimers implements Timers {
  now = 0;
  #next = 1;
  readonly #tasks = new Map<number, { at: number; fn: () => void }>();

  set(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.#tasks.set(id, { at: this.now + ms, fn });
    return id;
  }

  clear(handle: unknown): void {
    this.#tasks.delete(handle as number);
  }

  get pending(): number {
    return this.#tasks.size;
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.#tasks.entries()]
        .filter(([, t]) => t.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#tasks.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  }
}
