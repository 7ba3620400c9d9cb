import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { caretSnippet, debounce, requestIds } from "../src/common";
import { LiveValidator, type SubscriptionsMessage, type Validation } from "../src/subscriptions";
import { FakeTimers } from "./fake-timers";

describe("debounce", () => {
  test("a burst of calls runs once, with the last arguments, after the quiet period", () => {
    const timers = new FakeTimers();
    const calls: string[] = [];
    const fn = debounce((s: string) => calls.push(s), 150, timers);
    fn("a");
    timers.advance(100);
    fn("ab");
    timers.advance(100);
    fn("abc");
    assert.deepEqual(calls, []);
    assert.ok(fn.pending());
    timers.advance(149);
    assert.deepEqual(calls, []);
    timers.advance(1);
    assert.deepEqual(calls, ["abc"]);
    assert.equal(fn.pending(), false);
  });

  test("cancel drops the pending call; flush runs it now", () => {
    const timers = new FakeTimers();
    const calls: number[] = [];
    const fn = debounce((n: number) => calls.push(n), 300, timers);
    fn(1);
    fn.cancel();
    timers.advance(1000);
    assert.deepEqual(calls, []);
    fn(2);
    fn.flush();
    assert.deepEqual(calls, [2]);
    assert.equal(timers.pending, 0);
    fn.flush(); // nothing pending: no call
    assert.deepEqual(calls, [2]);
  });
});

describe("caret under a bad token", () => {
  test("single line", () => {
    assert.deepEqual(caretSnippet("status == 'open' AND priorty > 2", 21), {
      line: "status == 'open' AND priorty > 2",
      column: 21,
      length: 7,
    });
  });

  test("at the end of the text, and no position", () => {
    assert.deepEqual(caretSnippet("a ==", 4), { line: "a ==", column: 4, length: 0 });
    assert.deepEqual(caretSnippet("a ==", 99), { line: "a ==", column: 4, length: 0 });
    assert.equal(caretSnippet("a ==", null), null);
    assert.equal(caretSnippet("a ==", -1), null);
  });

  test("the line holding the position in multi-line text", () => {
    assert.deepEqual(caretSnippet("a == 1\nAND b ?? 2", 13), {
      line: "AND b ?? 2",
      column: 6,
      length: 2,
    });
  });

  test("long lines are cut to a window around the position", () => {
    const text = `${"x".repeat(200)} BAD ${"y".repeat(200)}`;
    const snippet = caretSnippet(text, 201, 40);
    assert.ok(snippet);
    assert.equal(snippet.line.length, 42); // window + "…" on both sides
    assert.equal(snippet.line.slice(snippet.column, snippet.column + snippet.length), "BAD");
  });
});

test("request ids are unique within and across views", () => {
  const a = requestIds();
  const b = requestIds();
  const ids = new Set([a(), a(), b(), b()]);
  assert.equal(ids.size, 4);
});

describe("validate as you type", () => {
  function setup() {
    const timers = new FakeTimers();
    const sent: SubscriptionsMessage[] = [];
    const states: Validation[] = [];
    let n = 0;
    const validator = new LiveValidator(
      (msg) => sent.push(msg),
      (state) => states.push(state),
      () => `v${++n}`,
      150,
      timers,
    );
    return { timers, sent, states, validator };
  }

  test("typing sends one validate request 150 ms after the last key", () => {
    const { timers, sent, validator } = setup();
    validator.input("Task", "s");
    validator.input("Task", "st");
    validator.input("Task", "status == 1");
    assert.equal(validator.state.status, "checking");
    timers.advance(150);
    assert.deepEqual(sent, [
      { kind: "validate", request_id: "v1", object_type: "Task", query: "status == 1" },
    ]);
  });

  test("only the reply to the newest request counts", () => {
    const { timers, sent, validator } = setup();
    validator.input("Task", "a ==");
    timers.advance(150);
    validator.input("Task", "a == 1");
    timers.advance(150);
    assert.equal(sent.length, 2);
    const stale = validator.reply({
      kind: "validation",
      request_id: "v1",
      ok: false,
      message: "unexpected end",
      position: 4,
    });
    assert.equal(stale, false);
    assert.equal(validator.state.status, "checking");
    assert.ok(
      validator.reply({
        kind: "validation",
        request_id: "v2",
        ok: true,
        message: "",
        position: null,
      }),
    );
    assert.ok(validator.accepts("Task", "a == 1"));
    assert.equal(validator.accepts("Task", "a == 2"), false);
    assert.equal(validator.accepts("Other", "a == 1"), false);
  });

  test("an invalid reply keeps message and position", () => {
    const { timers, validator } = setup();
    validator.input("Task", "a == ");
    timers.advance(150);
    validator.reply({
      kind: "validation",
      request_id: "v1",
      ok: false,
      message: "expected a value",
      position: 5,
    });
    assert.deepEqual(validator.state, {
      status: "invalid",
      objectType: "Task",
      query: "a == ",
      message: "expected a value",
      position: 5,
    });
  });

  test("clearing the box cancels the pending request", () => {
    const { timers, sent, validator } = setup();
    validator.input("Task", "a");
    validator.input("Task", "  ");
    timers.advance(500);
    assert.deepEqual(sent, []);
    assert.equal(validator.state.status, "empty");
  });
});
