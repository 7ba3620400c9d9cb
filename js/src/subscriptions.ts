/**
 * SubscriptionManager: the subscriptions with states and row counts, an add form whose query box
 * validates as you type, and a remove button per row. Python twin:
 * realm_jupyter/widgets/subscriptions.py.
 */
import type { RenderProps } from "@anywidget/types";

import {
  type Debounced,
  type Timers,
  caretView,
  debounce,
  h,
  injectStyles,
  realTimers,
  requestIds,
} from "./common";
import { describeQuery, formatCount } from "./format";
import css from "./styles.css";

/** Mirrors one entry of SubscriptionManager.subscriptions. */
export interface SubscriptionRow {
  id: string;
  name: string | null;
  object_type: string;
  query: string;
  state: string;
  rows: number;
  created_at: string;
}

/** Mirrors the synced traits of SubscriptionManager (realm_jupyter/widgets/subscriptions.py). */
export interface SubscriptionsModel {
  object_types: string[];
  subscriptions: SubscriptionRow[];
  set_version: number;
  set_state: string;
  set_error: string;
  error: string;
}

/** Custom messages this view sends to Python. */
export type SubscriptionsMessage =
  | { kind: "validate"; request_id: string; object_type: string; query: string }
  | { kind: "add"; request_id: string; object_type: string; query: string; name: string | null }
  | { kind: "remove"; request_id: string; id: string };

/** Custom messages Python sends back. */
export type SubscriptionsReply =
  | {
      kind: "validation";
      request_id: string;
      ok: boolean;
      message: string;
      position: number | null;
    }
  | { kind: "result"; request_id: string; op: "add" | "remove"; ok: boolean; message: string };

export const VALIDATE_DELAY_MS = 150;

export interface Validation {
  status: "empty" | "checking" | "ok" | "invalid";
  objectType: string;
  query: string;
  message: string;
  position: number | null;
}

/**
 * Validate-as-you-type: each input restarts a short debounce, then one `validate` request goes
 * out; only the reply to the newest request counts.
 */
export class LiveValidator {
  state: Validation = { status: "empty", objectType: "", query: "", message: "", position: null };
  #latest: string | null = null;
  readonly #request: Debounced<[string, string]>;

  constructor(
    private readonly send: (msg: SubscriptionsMessage) => void,
    private readonly onChange: (state: Validation) => void,
    private readonly nextId: () => string,
    delayMs = VALIDATE_DELAY_MS,
    timers: Timers = realTimers,
  ) {
    this.#request = debounce(
      (objectType: string, query: string) => {
        this.#latest = this.nextId();
        this.send({ kind: "validate", request_id: this.#latest, object_type: objectType, query });
      },
      delayMs,
      timers,
    );
  }

  input(objectType: string, query: string): void {
    if (!query.trim()) {
      this.#request.cancel();
      this.#latest = null;
      this.#set({ status: "empty", objectType, query, message: "", position: null });
      return;
    }
    this.#set({ status: "checking", objectType, query, message: "", position: null });
    this.#request(objectType, query);
  }

  /** Feed a `validation` reply; false when it answers an older request (and is ignored). */
  reply(msg: Extract<SubscriptionsReply, { kind: "validation" }>): boolean {
    if (this.#latest === null || msg.request_id !== this.#latest) return false;
    this.#latest = null;
    const { objectType, query } = this.state;
    this.#set({
      status: msg.ok ? "ok" : "invalid",
      objectType,
      query,
      message: msg.message,
      position: msg.position,
    });
    return true;
  }

  /** True when `query` on `objectType` was checked and found valid. */
  accepts(objectType: string, query: string): boolean {
    const s = this.state;
    return s.status === "ok" && s.objectType === objectType && s.query === query;
  }

  dispose(): void {
    this.#request.cancel();
  }

  #set(state: Validation): void {
    this.state = state;
    this.onChange(state);
  }
}

function render({ model, el }: RenderProps<SubscriptionsModel>): () => void {
  injectStyles(el, css);
  const nextId = requestIds();
  const send = (msg: SubscriptionsMessage): void => model.send(msg);

  const head = h("div", { class: "rj-head" });
  const setError = h("div", { class: "rj-error", role: "alert" });
  const table = h("div");
  const typeSelect = h("select", { "aria-label": "object type" });
  const queryInput = h("input", {
    class: "rj-query-input",
    type: "text",
    placeholder: "query, e.g. status == 'open' AND priority >= 2",
    spellcheck: "false",
    "aria-label": "query",
  });
  const nameInput = h("input", {
    class: "rj-name-input",
    type: "text",
    placeholder: "name (optional)",
    "aria-label": "subscription name",
  });
  const addButton = h("button", { type: "button", disabled: true }, "Add");
  const hint = h("div", { class: "rj-hint" });
  const error = h("div", { class: "rj-error", role: "alert" });
  el.append(
    h(
      "div",
      { class: "rj rj-subs" },
      head,
      setError,
      table,
      h("div", { class: "rj-form" }, typeSelect, queryInput, nameInput, addButton),
      hint,
      error,
    ),
  );

  let adding: string | null = null; // request id of the add in flight
  const removing = new Set<string>(); // subscription ids with a remove in flight
  const removeRequests = new Map<string, string>(); // request id → subscription id

  const showValidation = (state: Validation): void => {
    queryInput.classList.toggle("rj-invalid", state.status === "invalid");
    if (state.status === "invalid") {
      hint.replaceChildren(
        h("div", { class: "rj-error" }, state.message || "invalid query"),
        caretView(state.query, state.position) ?? "",
      );
    } else if (state.status === "checking") {
      hint.replaceChildren(h("span", { class: "rj-muted" }, "checking…"));
    } else {
      hint.replaceChildren();
    }
    updateButton();
  };
  const validator = new LiveValidator(send, showValidation, nextId);

  const updateButton = (): void => {
    addButton.disabled = adding !== null || !validator.accepts(typeSelect.value, queryInput.value);
    addButton.textContent = adding !== null ? "Adding…" : "Add";
  };

  const add = (): void => {
    if (addButton.disabled) return;
    adding = nextId();
    const name = nameInput.value.trim();
    send({
      kind: "add",
      request_id: adding,
      object_type: typeSelect.value,
      query: queryInput.value,
      name: name || null,
    });
    updateButton();
  };

  const renderTypes = (): void => {
    const current = typeSelect.value;
    const types = model.get("object_types");
    typeSelect.replaceChildren(...types.map((t) => h("option", { value: t }, t)));
    if (types.includes(current)) typeSelect.value = current;
  };

  const renderTable = (): void => {
    const state = model.get("set_state");
    head.replaceChildren(
      h("strong", {}, "Subscriptions"),
      h("span", { class: "rj-muted" }, `set version ${model.get("set_version")}`),
      ...(state ? [h("span", { class: `rj-badge rj-state-${state}` }, state)] : []),
    );
    setError.textContent = model.get("set_error");
    const rows = model.get("subscriptions");
    if (rows.length === 0) {
      table.replaceChildren(
        h("div", { class: "rj-muted" }, "No subscriptions yet: add one below."),
      );
      return;
    }
    const body = rows.map((row) => {
      const remove = h(
        "button",
        {
          type: "button",
          class: "rj-remove",
          title: `remove ${row.name ?? "this subscription"}`,
          "aria-label": "remove",
          disabled: removing.has(row.id),
        },
        removing.has(row.id) ? "…" : "×",
      );
      remove.addEventListener("click", () => {
        const requestId = nextId();
        removing.add(row.id);
        removeRequests.set(requestId, row.id);
        send({ kind: "remove", request_id: requestId, id: row.id });
        renderTable();
      });
      return h(
        "tr",
        { title: row.created_at ? `created ${row.created_at}` : null },
        h("td", { class: row.name ? null : "rj-muted" }, row.name ?? "(unnamed)"),
        h("td", {}, row.object_type),
        h("td", { class: "rj-query", title: row.query }, describeQuery(row.object_type, row.query)),
        h("td", {}, h("span", { class: `rj-badge rj-state-${row.state}` }, row.state)),
        h("td", { class: "rj-num" }, formatCount(row.rows)),
        h("td", {}, remove),
      );
    });
    table.replaceChildren(
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h("tr", {}, ...["Name", "Type", "Query", "State", "Rows", ""].map((t) => h("th", {}, t))),
        ),
        h("tbody", {}, ...body),
      ),
    );
  };

  const renderError = (): void => {
    error.textContent = model.get("error");
  };

  const onMessage = (msg: SubscriptionsReply): void => {
    if (msg.kind === "validation") {
      validator.reply(msg);
    } else if (msg.kind === "result") {
      if (msg.op === "add" && msg.request_id === adding) {
        adding = null;
        if (msg.ok) {
          queryInput.value = "";
          nameInput.value = "";
          validator.input(typeSelect.value, "");
        }
        updateButton();
      } else if (msg.op === "remove" && removeRequests.has(msg.request_id)) {
        removing.delete(removeRequests.get(msg.request_id) ?? "");
        removeRequests.delete(msg.request_id);
        renderTable();
      }
    }
  };

  const revalidate = (): void => validator.input(typeSelect.value, queryInput.value);
  queryInput.addEventListener("input", revalidate);
  typeSelect.addEventListener("change", revalidate);
  queryInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") add();
  });
  addButton.addEventListener("click", add);

  const listeners: [string, () => void][] = [
    ["change:object_types", renderTypes],
    ["change:subscriptions", renderTable],
    ["change:set_version", renderTable],
    ["change:set_state", renderTable],
    ["change:set_error", renderTable],
    ["change:error", renderError],
  ];
  for (const [event, fn] of listeners) model.on(event, fn);
  model.on("msg:custom", onMessage);
  renderTypes();
  renderTable();
  renderError();
  return () => {
    validator.dispose();
    for (const [event, fn] of listeners) model.off(event, fn);
    model.off("msg:custom", onMessage);
  };
}

export default { render };
