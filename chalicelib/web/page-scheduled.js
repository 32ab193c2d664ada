// Scheduled tasks (seeds: /tasks/scheduled and /tasks/scheduled/:id): blueprints and standalone tasks
// with their triggers, one-click pause and resume of each config and each trigger, a manual run with
// params from a form generated from the paramsSchema, and the runs (status, duration, cost, params),
// a standalone run's logs, retry and cancel.
import { ApiError, all, appPath, del, get, patch, post, url } from "./api.js";
import { ago, busy, clearErrors, confirmAction, copyButton, duration, empty, enabledBadge, h, heading, link, money, showErrors, stateBadge, toast } from "./dom.js";
import { follow } from "./live.js";
import { logView } from "./log-view.js";
import { paramsForm } from "./params-form.js";
import { describeTrigger, triggerFields, triggerTimes } from "./triggers.js";

const RUNS_POLL_MS = 2000;
const LOG_POLL_MS = 1000;
// A poll reads back this many sequence numbers before the newest held (see pollLines).
const LOG_OVERLAP = 20;
const ACTIVE_RUN = new Set(["queued", "running", "pending", "waiting_on_deps", "provisioning"]);

const labelOf = (config) => config.name ?? config.title ?? config.id;
const isStandalone = (config) => config.type === "standalone";
const needsParams = (config) => Object.keys(config.paramsSchema?.properties ?? {}).length > 0;

/** Pauses or resumes `label`; `what` ("trigger") tells a card's own button from its triggers' ones.
 * The name starts with the visible words ("Pause trigger: Nightly's schedule"), as speech input needs. */
function pauseButton(label, enabled, toggle, what = "") {
  const verb = enabled === false ? "Resume" : "Pause";
  return h("button", { type: "button", class: "secondary small", "aria-pressed": String(enabled === false),
    "aria-label": what ? `${verb} ${what}: ${label}` : `${verb} ${label}`, onclick: (e) => busy(e.currentTarget, toggle) },
  what ? `${verb} ${what}` : verb);
}

function triggerRow(config, trigger, reload) {
  const label = `${labelOf(config)}'s ${trigger.type}`;
  const times = triggerTimes(trigger);
  return h("li", { class: "trigger", dataset: { triggerId: trigger.id } },
    h("span", {}, describeTrigger(trigger), " ", enabledBadge(trigger.enabled),
      trigger.type === "webhook" ? [" ", copyButton(`${location.origin}${url(`/api/hooks/${trigger.config?.path}`)}`, "webhook URL")] : null),
    times.length ? h("span", { class: "muted" }, " ", ...times) : null,
    h("span", { class: "actions" }, pauseButton(label, trigger.enabled, async () => {
      await patch(`/api/tasks/${config.id}/triggers/${trigger.id}`, { enabled: trigger.enabled === false });
      toast(trigger.enabled === false ? "Trigger resumed." : "Trigger paused.");
      await reload();
    }, "trigger")));
}

function triggerList(config, items, reload, extra = () => null) {
  return items.length
    ? h("ul", { class: "rows triggers" }, items.map((t) => {
      const row = triggerRow(config, t, reload);
      row.querySelector(".actions").append(...[extra(t)].filter(Boolean));
      return row;
    }))
    : h("p", { class: "muted" }, "No trigger: it runs only when started by hand.");
}

async function runNow(config, navigate) {
  const run = await post(`/api/tasks/${config.id}/runs`, { params: {} });
  toast(`${labelOf(config)}: run started.`);
  navigate(run.type === "repo-task" ? `/tasks/${run.runId}` : `/tasks/scheduled/${config.id}?run=${run.runId}`);
}

function configCard(config, reload, navigate, repoName) {
  const label = labelOf(config);
  const triggers = h("div", {}, h("p", { class: "muted" }, "Loading triggers…"));
  get(`/api/tasks/${config.id}/triggers`).then(({ items }) => triggers.replaceChildren(triggerList(config, items, reload)))
    .catch((error) => triggers.replaceChildren(h("p", { class: "error-text" }, `Could not load the triggers: ${error.message}`)));
  const what = isStandalone(config) ? `standalone · ${config.agentRuntime ?? "claude-code"}`
    : `repo task · ${repoName(config) ?? "no repository"}`;
  // A paused config does not run, not even by hand (the API refuses it); one with params asks for them.
  const run = needsParams(config)
    ? link(`/tasks/scheduled/${config.id}#run`, h("span", { "aria-hidden": "true" }, "Run…"), h("span", { class: "visually-hidden" }, `Run ${label} with params`))
    : h("button", { type: "button", "aria-label": `Run now: ${label}`, disabled: config.enabled === false,
      onclick: (e) => busy(e.currentTarget, () => runNow(config, navigate)) }, "Run now");
  return h("li", { class: "card", dataset: { configId: config.id } },
    h("h3", {}, link(`/tasks/scheduled/${config.id}`, label), " ", enabledBadge(config.enabled)),
    h("p", { class: "muted clamp" }, what), triggers,
    h("div", { class: "actions" }, run, pauseButton(label, config.enabled, async () => {
      const before = config.enabled !== false;
      await patch(`/api/tasks/${config.id}`, { enabled: !before });
      toast(before ? `${label} paused: its triggers do not fire.` : `${label} resumed.`, async () => {
        await patch(`/api/tasks/${config.id}`, { enabled: before });
        toast(before ? `${label} resumed.` : `${label} paused again.`);
        await reload();
      });
      await reload();
    })));
}

async function list(view, navigate) {
  const holder = h("div", {});
  const load = async () => {
    const [blueprints, standalone, repos] = await Promise.all([all("/api/tasks?type=repo-blueprint"), all("/api/tasks?type=standalone"), all("/api/repos")]);
    const repoName = (config) => repos.find((r) => r.id === config.repoId)?.repoUrl ?? config.repoUrl;
    const section = (id, title, items) => items.length ? h("section", { "aria-labelledby": id }, h("h2", { id }, title),
      h("ul", { class: "rows cards" }, items.map((c) => configCard(c, load, navigate, repoName)))) : null;
    holder.replaceChildren(blueprints.length + standalone.length
      ? h("div", {}, section("blueprints-h", `Repo tasks (${blueprints.length})`, blueprints),
        section("standalone-h", `Standalone tasks (${standalone.length})`, standalone))
      : empty("No scheduled tasks yet.",
        "A scheduled task is a saved repo task (or a standalone task, with no repository) that a cron schedule, a webhook or a ticket starts. "
        + "Create one from New Task: switch to Schedule and pick its trigger.",
        link("/tasks/new?mode=schedule", "Schedule a task")));
  };
  view.replaceChildren(heading("Scheduled tasks", link("/tasks/new?mode=schedule", "Schedule a task")), holder);
  await load();
}

function facts(config, repoName) {
  const rows = isStandalone(config)
    ? [["Kind", "Standalone task (no repository)"], ["Agent", `${config.agentRuntime ?? "claude-code"}${config.model ? ` · ${config.model}` : ""}`],
      ["Limits", [config.maxTurns && `${config.maxTurns} turns`, config.budgetUsd && `budget ${money(config.budgetUsd)}`,
        `${config.maxConcurrent ?? 2} at once`, `${config.maxRetries ?? 1} retries`,
        config.warmPoolSize && `${config.warmPoolSize} warm runners`].filter(Boolean).join(" · ")]]
    : [["Kind", "Repo task blueprint"], ["Repository", `${repoName ?? config.repoUrl ?? "—"}${config.repoBranch ? ` (${config.repoBranch})` : ""}`],
      ["Agent", config.agentType ?? "repo default"], ["Priority", String(config.priority ?? 0)], ["Task title", config.title ?? config.name]];
  rows.push(["Created", ago(config.createdAt)]);
  if (config.description) rows.push(["Summary", config.description]);
  return h("dl", { class: "facts" }, rows.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
}

function paramsText(params) {
  const entries = Object.entries(params ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ") : "—";
}

/** A standalone run's logs in the log viewer (log-view.js): lines and state changes pushed over the
 * socket (live.js), polled only while it is down and the run may still write. */
function runLogs(runId) {
  let stopped = false;
  let live = false; // the socket is open and replayed
  let active = true; // the run may still write
  const logs = logView(`/api/workflow-runs/${runId}/logs`, { filename: `run-${runId}.log`, label: "Run logs" });
  const status = h("p", { class: "muted" });
  const readRun = async () => {
    const run = await get(`/api/workflow-runs/${runId}`);
    active = ACTIVE_RUN.has(run.state);
    status.replaceChildren(...[stateBadge(run.state), run.startedAt ? ` ran ${duration(run.startedAt, run.finishedAt)}` : " not started yet",
      run.costUsd ? ` · ${money(run.costUsd)}` : null,
      run.errorMessage ? h("span", { class: "error-text" }, ` ${run.errorMessage}`) : null,
      run.output ? h("details", {}, h("summary", {}, "Output"), h("pre", { class: "prompt" }, run.output)) : null].filter(Boolean));
  };
  const pollLines = async () => {
    for (;;) {
      // Read back a little before the newest line held: a batch written late still shows, once.
      const page = await get(`/api/workflow-runs/${runId}/logs?after=${Math.max(0, logs.after() - LOG_OVERLAP)}&limit=200`);
      logs.add(page.items);
      if (!page.nextCursor) return;
    }
  };
  const tick = async () => {
    try { if (!live) await Promise.all([readRun(), pollLines()]); } catch { /* retried on the next tick */ }
    if (!stopped) setTimeout(tick, active ? LOG_POLL_MS : LOG_POLL_MS * 5);
  };
  const unfollow = follow(runId, {
    kind: "runId",
    after: () => logs.after(),
    onLines: (items) => logs.add(items),
    onState: () => { readRun().catch(() => {}); },
    onLive: (on) => { live = on; logs.element.dataset.live = String(on); },
  });
  Promise.all([readRun(), logs.open()]).catch(() => {}).then(() => setTimeout(tick, LOG_POLL_MS));
  return {
    element: h("section", { class: "card run-logs", "aria-labelledby": "run-logs-h" },
      h("div", { class: "page-head" }, h("h2", { id: "run-logs-h" }, `Run ${runId.slice(0, 8)}`),
        link(appPath(), "Close")), status, logs.element),
    stop: () => { stopped = true; unfollow(); },
  };
}

function runActions(config, run, refresh) {
  const act = (label, path, message) => h("button", { type: "button", class: "secondary small", "aria-label": `${label} run ${run.id.slice(0, 8)}`,
    onclick: (e) => busy(e.currentTarget, async () => { await post(path); toast(message); await refresh(); }) }, label);
  if (isStandalone(config)) {
    return [
      link(`/tasks/scheduled/${config.id}?run=${run.id}`, "Logs"),
      ACTIVE_RUN.has(run.state) ? act("Cancel", `/api/workflow-runs/${run.id}/cancel`, "Run cancelled.") : null,
      run.state === "failed" ? act("Retry", `/api/workflow-runs/${run.id}/retry`, "Run queued again.") : null,
    ];
  }
  return [
    link(`/tasks/${run.id}`, "Open task"),
    ACTIVE_RUN.has(run.state) || ["needs_attention", "pr_opened"].includes(run.state) ? act("Cancel", `/api/tasks/${run.id}/cancel`, "Task cancelled.") : null,
    ["failed", "cancelled"].includes(run.state) ? act("Retry", `/api/tasks/${run.id}/retry`, "Task queued again.") : null,
  ];
}

function runsTable(config, runs, refresh) {
  const finished = (run) => run.finishedAt ?? run.completedAt;
  return h("div", { class: "table-wrap" }, h("table", { class: "tasks runs" },
    h("thead", {}, h("tr", {}, ["Run", "Status", "Started", "Duration", "Cost", "Params", ""].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, runs.map((run) => h("tr", { dataset: { runId: run.id } },
      h("td", {}, isStandalone(config) ? link(`/tasks/scheduled/${config.id}?run=${run.id}`, run.id.slice(0, 8)) : link(`/tasks/${run.id}`, run.title ?? run.id.slice(0, 8))),
      h("td", {}, stateBadge(run.state)),
      h("td", {}, ago(run.startedAt ?? run.createdAt)),
      // A running run's duration ticks in place (see refreshRuns), without redrawing the row.
      h("td", { class: "duration", dataset: ACTIVE_RUN.has(run.state) && run.startedAt && !finished(run) ? { since: run.startedAt } : {} },
        run.startedAt ? duration(run.startedAt, finished(run)) : "—"),
      h("td", {}, money(run.costUsd)),
      h("td", { class: "params" }, paramsText(run.params ?? run.metadata?.triggerParams)),
      h("td", {}, h("span", { class: "actions" }, runActions(config, run, refresh))))))));
}

async function detail(view, configId, navigate) {
  let config;
  try {
    config = await get(`/api/tasks/${configId}`);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    view.replaceChildren(heading("Scheduled task not found"), empty("There is no scheduled task with this id.", "It may have been deleted.", link("/tasks/scheduled", "All scheduled tasks")));
    return undefined;
  }
  if (!["repo-blueprint", "standalone"].includes(config.type)) {
    navigate(`/tasks/${configId}`);
    return undefined;
  }
  const repoName = config.repoId ? (await get(`/api/repos/${config.repoId}`).catch(() => null))?.repoUrl : null;
  const head = h("div", {});
  const triggersBox = h("div", {});
  const runsBox = h("div", { "aria-live": "polite" });
  const logsBox = h("div", {});
  let stopped = false;
  let lastRuns = "";
  let logs = null;

  const drawHead = () => {
    document.title = `${labelOf(config)} · Optio`;
    head.replaceChildren(
      heading(labelOf(config), enabledBadge(config.enabled),
        pauseButton(labelOf(config), config.enabled, async () => {
          config = await patch(`/api/tasks/${config.id}`, { enabled: config.enabled === false });
          toast(config.enabled ? "Resumed: its triggers fire again." : "Paused: no trigger fires and it cannot be run.");
          drawHead();
          runForm.sync();
        }),
        h("button", { type: "button", class: "danger small", onclick: (e) => busy(e.currentTarget, async () => {
          if (!await confirmAction(`Delete ${labelOf(config)}?`, "The scheduled task and its triggers go (1 scheduled task); the runs it made stay.", "Delete 1 scheduled task")) return;
          await del(`/api/tasks/${config.id}`);
          toast("Deleted.");
          navigate("/tasks/scheduled");
        }) }, "Delete"),
        link("/tasks/scheduled", "All scheduled tasks")),
      h("div", { class: "detail-grid" },
        h("section", { "aria-label": "Details" }, facts(config, repoName)),
        h("details", { open: true }, h("summary", {}, isStandalone(config) ? "Prompt template" : "Prompt"),
          h("pre", { class: "prompt" }, config.prompt ?? config.promptTemplate ?? ""))));
  };

  const loadTriggers = async () => {
    const { items } = await get(`/api/tasks/${config.id}/triggers`);
    triggersBox.replaceChildren(triggerList(config, items, loadTriggers, (t) => h("button", { type: "button", class: "danger small",
      "aria-label": `Delete the ${t.type} trigger`, onclick: (e) => busy(e.currentTarget, async () => {
        if (!await confirmAction(`Delete this ${t.type} trigger?`, "It no longer starts runs (1 trigger); pausing it keeps it for later.", "Delete 1 trigger")) return;
        await del(`/api/tasks/${config.id}/triggers/${t.id}`);
        toast("Trigger deleted.");
        await loadTriggers();
      }) }, "Delete")));
  };

  const addTrigger = () => {
    const fields = triggerFields("add");
    fields.setKind(config.type);
    fields.setConfig(config);
    const form = h("form", { novalidate: true, "aria-label": "Add a trigger" }, fields.element, h("p", { class: "form-error", role: "alert" }),
      h("button", { type: "submit", class: "secondary" }, "Add trigger"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      try {
        await post(`/api/tasks/${config.id}/triggers`, { ...fields.value(), enabled: true });
        toast("Trigger added.");
        await loadTriggers();
      } catch (error) {
        showErrors(form, error);
      }
    });
    return h("details", {}, h("summary", {}, "Add a trigger"), form);
  };

  const refreshRuns = async () => {
    const { items } = await get(`/api/tasks/${config.id}/runs?limit=50`);
    const snapshot = JSON.stringify(items.map((r) => [r.id, r.state, r.costUsd, r.startedAt, r.finishedAt ?? r.completedAt]));
    for (const cell of runsBox.querySelectorAll("td.duration[data-since]")) cell.textContent = duration(cell.dataset.since);
    if (snapshot === lastRuns) return;
    lastRuns = snapshot;
    runsBox.replaceChildren(items.length ? runsTable(config, items, refreshRuns)
      : empty("No runs yet.", "Runs appear here when a trigger fires or you start one with the form above."));
  };

  const runForm = (() => {
    const generated = paramsForm(config.paramsSchema);
    const submit = h("button", { type: "submit" }, "Run now");
    const paused = h("p", { class: "muted" }, "Paused: resume it to run it.");
    const form = h("form", { id: "run", class: "card", novalidate: true, "aria-labelledby": "run-h" },
      h("h2", { id: "run-h" }, "Run it now"),
      generated.empty ? h("p", { class: "muted" }, "It takes no params.") : generated.element,
      h("p", { class: "form-error", role: "alert" }), paused, h("div", { class: "actions" }, submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      submit.disabled = true;
      try {
        const run = await post(`/api/tasks/${config.id}/runs`, { params: generated.read() });
        toast("Run started.");
        if (run.type === "workflow-run") navigate(`/tasks/scheduled/${config.id}?run=${run.runId}`);
        else await refreshRuns();
      } catch (error) {
        showErrors(form, error);
        form.querySelector("[aria-invalid]")?.focus();
      } finally {
        sync();
      }
    });
    const sync = () => { submit.disabled = config.enabled === false; paused.hidden = config.enabled !== false; };
    sync();
    return { element: form, sync };
  })();

  const runId = new URLSearchParams(location.search).get("run");
  if (runId && isStandalone(config)) {
    logs = runLogs(runId);
    logsBox.replaceChildren(logs.element);
  } else if (runId) {
    navigate(`/tasks/${runId}`);
    return undefined;
  }

  drawHead();
  view.replaceChildren(head,
    h("section", { "aria-labelledby": "triggers-h" }, h("h2", { id: "triggers-h" }, "Triggers"), triggersBox, addTrigger()),
    runForm.element,
    logsBox,
    h("section", { "aria-labelledby": "runs-h" }, h("h2", { id: "runs-h" }, "Runs"), runsBox));
  await Promise.all([loadTriggers(), refreshRuns()]);
  if (location.hash === "#run") runForm.element.querySelector("input, select, textarea, button")?.focus();
  const tick = async () => {
    try { await refreshRuns(); } catch { /* retried on the next tick */ }
    if (!stopped) setTimeout(tick, RUNS_POLL_MS);
  };
  setTimeout(tick, RUNS_POLL_MS);
  return () => { stopped = true; logs?.stop(); };
}

export default async function scheduled(view, { params: [configId], navigate }) {
  if (configId) return detail(view, configId, navigate);
  await list(view, navigate);
  return undefined;
}
