/**
 * SyncStatus: a one-line status bar of the sync session. Python twin:
 * realm_jupyter/widgets/status.py.
 */
import type { AnyModel, RenderProps } from "@anywidget/types";

import { h, injectStyles } from "./common";
import { formatBytes, formatCount, formatEta, formatPercent, formatSince } from "./format";
import css from "./styles.css";

export type Phase = "idle" | "bootstrap" | "catch_up";

/** Mirrors SyncStatus.progress. */
export interface Progress {
  estimate: number;
  rows: number;
  total_rows: number;
  bytes: number;
  eta_seconds: number | null;
  phase: Phase;
}

/** Mirrors the synced traits of SyncStatus (realm_jupyter/widgets/status.py). */
export interface StatusModel {
  connection_state: "disconnected" | "connecting" | "connected";
  session_state: "active" | "inactive";
  progress: Progress;
  subscription_version: number;
  subscription_state: string;
  last_sync: string;
  error: string;
  pending_uploads: number;
}

/** Custom messages this view sends to Python. */
export type StatusMessage = { kind: "pause" } | { kind: "resume" };

const TRAITS: (keyof StatusModel)[] = [
  "connection_state",
  "session_state",
  "progress",
  "subscription_version",
  "subscription_state",
  "last_sync",
  "error",
  "pending_uploads",
];

const PHASE_LABELS: Record<Phase, string> = {
  idle: "up to date",
  bootstrap: "downloading",
  catch_up: "catching up",
};

/** "downloading 45% · 1,234/10,000 rows · 1.2 MB · ETA 12s", or "up to date" when idle. */
export function progressSummary(progress: Progress): string {
  if (progress.phase === "idle") return PHASE_LABELS.idle;
  const parts = [`${PHASE_LABELS[progress.phase]} ${formatPercent(progress.estimate)}`];
  if (progress.total_rows > 0) {
    parts.push(`${formatCount(progress.rows)}/${formatCount(progress.total_rows)} rows`);
  }
  if (progress.bytes > 0) parts.push(formatBytes(progress.bytes));
  const eta = formatEta(progress.eta_seconds);
  if (eta) parts.push(`ETA ${eta}`);
  return parts.join(" · ");
}

type Requested = StatusMessage["kind"] | null;

function buttonLabel(active: boolean, requested: Requested): string {
  if (requested === "pause") return "Pausing…";
  if (requested === "resume") return "Resuming…";
  return active ? "Pause" : "Resume";
}

function view(
  model: AnyModel<StatusModel>,
  requested: Requested,
  send: (msg: StatusMessage) => void,
): Node[] {
  const connection = model.get("connection_state");
  const session = model.get("session_state");
  const progress = model.get("progress");
  const lastSync = model.get("last_sync");
  const pending = model.get("pending_uploads");
  const active = session === "active";

  const button = h(
    "button",
    { type: "button", disabled: requested !== null, title: active ? "Stop syncing" : "Sync again" },
    buttonLabel(active, requested),
  );
  const percent = (Math.min(1, Math.max(0, progress.estimate)) * 100).toFixed(1);
  const setState = model.get("subscription_state");
  button.addEventListener("click", () => send({ kind: active ? "pause" : "resume" }));

  const bar = h(
    "div",
    { class: "rj-bar" },
    h(
      "span",
      { class: `rj-item rj-state-${connection}`, title: "connection" },
      h("span", { class: "rj-dot" }),
      connection,
    ),
    h("span", { class: `rj-item rj-state-${session}`, title: "session" }, `session ${session}`),
    h(
      "span",
      { class: "rj-item", title: "download progress" },
      progress.phase === "idle"
        ? null
        : h("span", { class: "rj-progress" }, h("div", { style: `width: ${percent}%` })),
      progressSummary(progress),
    ),
    h(
      "span",
      { class: `rj-item rj-state-${setState}`, title: "subscription set" },
      `subscriptions v${model.get("subscription_version")} ${setState}`.trim(),
    ),
    h(
      "span",
      { class: "rj-item rj-muted", title: lastSync || "no sync yet" },
      `last sync ${formatSince(lastSync, Date.now())}`,
    ),
    pending > 0
      ? h(
          "span",
          { class: "rj-item rj-state-pending", title: "local changes not yet uploaded" },
          `↑ ${formatCount(pending)} pending`,
        )
      : null,
    button,
  );
  return [bar, h("div", { class: "rj-error", role: "alert" }, model.get("error"))];
}

function render({ model, el }: RenderProps<StatusModel>): () => void {
  injectStyles(el, css);
  const root = h("div", { class: "rj rj-status" });
  el.append(root);
  let requested: Requested = null;
  let giveUp: ReturnType<typeof setTimeout> | undefined;
  const send = (msg: StatusMessage): void => {
    requested = msg.kind;
    model.send(msg);
    update();
    // If the session state never changes (say it was already paused), re-enable the button.
    clearTimeout(giveUp);
    giveUp = setTimeout(() => {
      requested = null;
      update();
    }, 10_000);
  };
  const update = (): void => {
    root.replaceChildren(...view(model, requested, send));
  };
  const onSession = (): void => {
    requested = null; // the source answered: pause/resume took effect
  };
  const onError = (): void => {
    if (model.get("error")) requested = null;
  };
  model.on("change:session_state", onSession);
  model.on("change:error", onError);
  for (const trait of TRAITS) model.on(`change:${trait}`, update);
  const timer = setInterval(update, 5000); // keeps "last sync … ago" current
  update();
  return () => {
    clearInterval(timer);
    clearTimeout(giveUp);
    model.off("change:session_state", onSession);
    model.off("change:error", onError);
    for (const trait of TRAITS) model.off(`change:${trait}`, update);
  };
}

export default { render };
