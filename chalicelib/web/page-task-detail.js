// Task detail: state and pipeline, the agent's live logs, history, comments, related tasks, and
// the lifecycle actions its state allows.
import { ApiError, del, get, post } from "./api.js";
import { AGENT_TYPES, ago, busy, clearErrors, confirmAction, copyButton, duration, empty, field, h, heading, link, money, select, showErrors, stateBadge, toast } from "./dom.js";
import { logView } from "./log-view.js";
import { follow } from "./live.js";
import { ACTIONS, STEPS, progress } from "./pipeline.js";

const LOG_POLL_MS = 700;
const TASK_POLL_MS = 1500;
// Logs follow the agent closely while it may be working; a settled task is checked now and then.
const LIVE_STATES = new Set(["queued", "provisioning", "running"]);
const SETTLED_EVERY = 8;
// Each poll reads back this many sequence numbers before the newest one shown: a batch that became
// visible late (writers reserve numbers before writing) still shows, in order, and only once.
const LOG_OVERLAP = 20;
// The API adds dependencies only while a task waits to be queued.
const DEPENDABLE_STATES = new Set(["pending", "waiting_on_deps"]);

function pipeline(task) {
  const { reached, stopped } = progress(task);
  return h("ol", { class: "pipeline", "aria-label": "Progress" }, STEPS.map((step, index) => {
    // Completed without a pull request (pushed branch, no forge): the PR steps did not apply.
    const skipped = task.state === "completed" && !task.prUrl && index >= 3 && index < STEPS.length - 1;
    const status = skipped ? "skipped"
      : index < reached || (index === reached && task.state === "completed") ? "done"
        : index === reached ? (stopped ? "stopped" : "current") : "todo";
    return h("li", { class: `step ${status}`, "aria-current": status === "current" ? "step" : null }, step);
  }));
}

function facts(task) {
  const rows = [
    ["Id", h("span", {}, h("code", {}, task.id), " ", copyButton(task.id, "task id"))],
    ["Repository", `${task.repoUrl} (${task.repoBranch})`],
    ["Branch", task.branchName ? h("span", {}, h("code", {}, task.branchName), " ", copyButton(task.branchName, "branch name")) : "—"], ["Agent", task.agentType],
    ["Priority", String(task.priority)], ["Created", h("span", {}, ago(task.createdAt), task.createdBy ? ` by ${task.createdBy}` : "")], ["Started", ago(task.startedAt)],
    ["Finished", task.completedAt ? h("span", {}, ago(task.completedAt), task.startedAt ? `, after ${duration(task.startedAt, task.completedAt)}` : "") : "—"], ["Retries", `${task.retryCount} of ${task.maxRetries}`],
    ["Pull request", task.prUrl ? h("span", {}, h("a", { href: task.prUrl, target: "_blank", rel: "noopener" }, `#${task.prNumber ?? "PR"}`),
      " ", copyButton(task.prUrl, "pull request URL"),
      ` ${[task.prState, task.prChecksStatus && `checks ${task.prChecksStatus}`, task.prReviewStatus && `review ${task.prReviewStatus}`].filter(Boolean).join(", ")}`)
      // A local repository has no forge: the agent's work stays on its branch there.
      : task.repoUrl?.startsWith("file://") ? `none: a local repository has no pull requests (the work is on ${task.branchName ?? "the task's branch"})`
        : "none yet"],
    ["Cost", `${money(task.costUsd)} · ${task.inputTokens ?? 0} in / ${task.outputTokens ?? 0} out tokens${task.modelUsed ? ` · ${task.modelUsed}` : ""}`],
  ];
  if (task.parentId) rows.push(["Parent", link(`/tasks/${task.parentId}`, "parent task")]);
  // A run of a scheduled task: back to its blueprint, and what started it.
  const meta = task.metadata ?? {};
  if (meta.taskConfigId) {
    rows.push(["Scheduled task", h("span", {}, link(`/tasks/scheduled/${meta.taskConfigId}`, "its blueprint"),
      meta.trigger?.type ? ` · started by ${meta.trigger.type}` : "")]);
  }
  if (meta.issueNumber || meta.ticketUrl || meta.issueUrl) {
    const url = meta.issueUrl ?? meta.ticketUrl;
    rows.push(["Ticket", url ? h("a", { href: url, target: "_blank", rel: "noopener" }, meta.issueNumber ? `#${meta.issueNumber}` : url) : `#${meta.issueNumber}`]);
  }
  if (task.resultSummary) rows.push(["Result", task.resultSummary]);
  if (task.errorMessage) rows.push(["Error", h("span", { class: "error-text" }, task.errorMessage)]);
  return h("dl", { class: "facts" }, rows.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
}

function taskList(tasks, none) {
  return tasks.length
    ? h("ul", { class: "rows" }, tasks.map((t) => h("li", {}, stateBadge(t.state), " ", link(`/tasks/${t.id}`, t.title))))
    : h("p", { class: "muted" }, none);
}

/** Subtasks: the list, and a form that adds one (`POST /api/tasks/{id}/subtasks`); the API's
 * errors show under the field they name. */
function subtasksSection(taskId, reload) {
  const list = h("div", {});
  const title = h("input", { name: "title", id: "subtask-title", autocomplete: "off" });
  const prompt = h("textarea", { name: "prompt", id: "subtask-prompt", rows: 3 });
  const kind = select("taskType", [["child", "Child: a task of its own, on its own branch"], ["step", "Step: runs after the previous step, on the parent's branch"],
    ["review", "Review: reviews the parent's pull request"]], "child");
  // The API's default: a child does not hold its parent back, a step or a review does.
  const blocks = h("input", { name: "blocksParent", id: "subtask-blocks", type: "checkbox" });
  let blocksTouched = false;
  blocks.addEventListener("change", () => { blocksTouched = true; });
  kind.addEventListener("change", () => { if (!blocksTouched) blocks.checked = kind.value !== "child"; });
  const agent = select("agentType", [["", "The parent's agent"], ...AGENT_TYPES.map((a) => [a, a])], "");
  const form = h("form", { class: "subtask-form", novalidate: true },
    field("Subtask title", title), field("Subtask prompt", prompt), field("Kind", kind), field("Blocks the parent until it is done", blocks),
    field("Subtask agent", agent), h("p", { class: "form-error", role: "alert" }), h("button", { type: "submit", class: "secondary" }, "Create subtask"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = { title: title.value, prompt: prompt.value, taskType: kind.value, blocksParent: blocks.checked };
    if (agent.value) body.agentType = agent.value;
    try {
      const made = await post(`/api/tasks/${taskId}/subtasks`, body);
      title.value = prompt.value = "";
      toast(`Subtask created: ${made.title}.`);
      await reload();
    } catch (error) {
      showErrors(form, error);
    }
  });
  return {
    element: h("section", { "aria-labelledby": "subtasks-h" }, h("h2", { id: "subtasks-h" }, "Subtasks"), list,
      h("details", { class: "task-form" }, h("summary", {}, "Add a subtask"), form)),
    draw: (subtasks, status) => list.replaceChildren(
      status?.total ? h("p", { class: "muted" }, `${status.completed} of ${status.total} blocking subtasks done`) : "",
      taskList(subtasks, "No subtasks.")),
  };
}

/** Dependencies: the tasks this one waits for, each removable (after asking), and a picker of
 * other tasks that adds more (`POST /api/tasks/{id}/dependencies`) while this one waits. */
function dependenciesSection(taskId, reload) {
  const list = h("div", {});
  const find = h("input", { name: "dependsOnIds", id: "dep-find", type: "search", autocomplete: "off", placeholder: "Title or id" });
  const choices = h("ul", { class: "pick", "aria-label": "Tasks to wait for" });
  const picked = new Map(); // id -> title
  let candidates = null;
  let current = new Set();
  const drawChoices = () => {
    const wanted = find.value.trim().toLowerCase();
    const shown = (candidates ?? []).filter((t) => picked.has(t.id) || (!current.has(t.id)
      && (!wanted || t.title.toLowerCase().includes(wanted) || t.id.startsWith(wanted)))).slice(0, 8);
    choices.replaceChildren(...(shown.length ? shown.map((t) => h("li", {}, h("label", {},
      h("input", { type: "checkbox", value: t.id, checked: picked.has(t.id),
        onchange: (e) => { if (e.currentTarget.checked) picked.set(t.id, t.title); else picked.delete(t.id); } }),
      " ", stateBadge(t.state), " ", t.title)))
      : [h("li", { class: "muted" }, candidates ? "No other task matches." : "Loading tasks…")]));
  };
  find.addEventListener("input", drawChoices);
  const form = h("form", { class: "deps-form", novalidate: true },
    field("Find tasks to wait for", find, "Pick one or more: this task is queued once they are done."), choices,
    h("p", { class: "form-error", role: "alert" }), h("button", { type: "submit", class: "secondary" }, "Add dependencies"));
  const details = h("details", { class: "task-form" }, h("summary", {}, "Add dependencies"), form);
  const note = h("p", { class: "muted" });
  details.addEventListener("toggle", async () => {
    if (!details.open || candidates) return;
    drawChoices();
    try {
      candidates = (await get("/api/tasks?type=repo-task&limit=200")).items.filter((t) => t.id !== taskId);
    } catch (error) {
      candidates = [];
      showErrors(form, error);
    }
    drawChoices();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    // A typed id counts too: the API says whether it names a task.
    const typed = find.value.trim();
    const ids = [...picked.keys()];
    if (!ids.length && typed) ids.push(typed);
    try {
      await post(`/api/tasks/${taskId}/dependencies`, { dependsOnIds: ids });
      toast(`Now waits for ${ids.length} more task${ids.length === 1 ? "" : "s"}.`);
      picked.clear();
      find.value = "";
      await reload();
    } catch (error) {
      showErrors(form, error);
    }
  });
  const remove = async (dep) => {
    if (!await confirmAction("Remove this dependency?", `This task stops waiting for “${dep.title}” (1 dependency).`, "Remove 1 dependency")) return;
    try {
      await del(`/api/tasks/${taskId}/dependencies/${dep.id}`);
      toast(`No longer waits for ${dep.title}.`);
      await reload();
    } catch (error) {
      toast(`Could not remove it: ${error.message}`);
    }
  };
  return {
    element: h("section", { "aria-labelledby": "deps-h" }, h("h2", { id: "deps-h" }, "Depends on"), list, note, details),
    draw: (task, deps) => {
      current = new Set(deps.map((d) => d.id));
      list.replaceChildren(deps.length
        ? h("ul", { class: "rows" }, deps.map((d) => h("li", { class: "dep" }, stateBadge(d.state), " ", link(`/tasks/${d.id}`, d.title), " ",
          h("button", { type: "button", class: "danger small", "aria-label": `Remove dependency on ${d.title}`, onclick: () => remove(d) }, "Remove"))))
        : h("p", { class: "muted" }, "No dependencies."));
      const open = DEPENDABLE_STATES.has(task.state);
      details.hidden = !open;
      note.textContent = open ? "" : `Dependencies are added while a task waits to be queued; this one is ${task.state.replaceAll("_", " ")}.`;
      if (candidates) drawChoices();
    },
  };
}


function commentsSection(taskId) {
  const list = h("ul", { class: "rows" });
  const body = h("textarea", { name: "body", rows: 3 });
  const form = h("form", { novalidate: true }, field("Add a comment", body), h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit", class: "secondary" }, "Add comment"));
  const load = async () => {
    const { items } = await get(`/api/tasks/${taskId}/comments?limit=200`);
    list.replaceChildren(...(items.length ? items.map((c) => h("li", {}, h("strong", {}, c.author), " ",
      h("span", { class: "muted" }, ago(c.createdAt)), h("p", { class: "comment" }, c.body)))
      : [h("li", { class: "muted" }, "No comments yet.")]));
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      await post(`/api/tasks/${taskId}/comments`, { body: body.value });
      body.value = "";
      await load();
    } catch (error) {
      showErrors(form, error);
    }
  });
  return { element: h("section", { "aria-labelledby": "comments-h" }, h("h2", { id: "comments-h" }, "Comments"), list, form), load };
}

function actionBar(task, act) {
  const promptBox = h("textarea", { name: "prompt", rows: 3 });
  const resumeForm = h("form", { class: "card", hidden: true, novalidate: true },
    field("What should the agent do next?", promptBox), h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit" }, "Resume"));
  resumeForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(resumeForm);
    try {
      await post(`/api/tasks/${task.id}/resume`, { prompt: promptBox.value });
      resumeForm.hidden = true;
      act.done("Resumed: the agent continues with your prompt.");
    } catch (error) {
      showErrors(resumeForm, error);
    }
  });
  const button = (name, label, onclick) => h("button", { type: "button", class: "secondary", disabled: !ACTIONS[name](task), dataset: { action: name }, onclick }, label);
  return h("div", {},
    h("div", { class: "actions wrap", role: "group", "aria-label": "Actions" },
      button("cancel", "Cancel", async (e) => {
        const target = e.currentTarget;
        if (await confirmAction("Cancel this task?", "Its agent is stopped at once (1 task); Retry starts it again from the queue.", "Cancel 1 task")) {
          act.run({ currentTarget: target }, "cancel", "Cancelled.");
        }
      }),
      button("retry", "Retry", (e) => act.run(e, "retry", "Queued again.")),
      button("resume", "Resume…", () => { resumeForm.hidden = !resumeForm.hidden; if (!resumeForm.hidden) promptBox.focus(); }),
      button("force-restart", "Force restart", (e) => act.run(e, "force-restart", "Restarting with a fresh session.")),
      button("force-redo", "Force redo", async (e) => {
        const target = e.currentTarget;
        if (await confirmAction("Start this task over?", "Its PR fields, result, cost and logs are cleared (1 task); the branch restarts from the base branch.", "Start 1 task over")) {
          act.run({ currentTarget: target }, "force-redo", "Starting over.");
        }
      }),
      button("review", "Launch review", (e) => act.run(e, "review", "Review subtask created."))),
    resumeForm);
}

export default async function taskDetail(view, { params: [taskId] }) {
  let task;
  try {
    task = await get(`/api/tasks/${taskId}`);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    view.replaceChildren(heading("Task not found"), empty("There is no task with this id.", "It may have been deleted.", link("/tasks", "All tasks")));
    return undefined;
  }
  const logs = logView(`/api/tasks/${taskId}/logs`, { filename: `task-${taskId}.log` });
  const comments = commentsSection(taskId);
  const top = h("div", {});
  const side = h("section", { class: "side" });
  const history = h("ol", { class: "rows events" });
  const related = h("div", { class: "columns" });
  const subtasksPart = subtasksSection(taskId, () => refreshRelated());
  const depsPart = dependenciesSection(taskId, () => refreshRelated());
  const dependentsList = h("div", {});
  related.append(subtasksPart.element, depsPart.element,
    h("section", { "aria-labelledby": "dependents-h" }, h("h2", { id: "dependents-h" }, "Needed by"), dependentsList));
  let stopped = false;
  let drawnVersion = null;
  let live = false; // the socket is open and replayed: lines and state changes come pushed

  const act = {
    run: (event, name, message) => busy(event.currentTarget, async () => {
      await post(`/api/tasks/${taskId}/${name}`);
      if (name === "force-redo") logs.clear();
      act.done(message);
    }),
    done: (message) => { toast(message); refreshTask().catch(() => {}); },
  };

  const drawTask = () => {
    document.title = `${task.title} · Optio`;
    top.replaceChildren(
      h("div", { class: "page-head" }, h("h1", {}, task.title), h("div", { class: "actions" }, stateBadge(task.state))),
      pipeline(task), actionBar(task, act));
    side.replaceChildren(h("h2", {}, "Details"), facts(task),
      h("details", {}, h("summary", {}, "Prompt"), h("pre", { class: "prompt" }, task.prompt)));
  };

  const refreshRelated = async () => {
    const [events, subtasks, deps, dependents] = await Promise.all([
      get(`/api/tasks/${taskId}/events`), get(`/api/tasks/${taskId}/subtasks`),
      get(`/api/tasks/${taskId}/dependencies`), get(`/api/tasks/${taskId}/dependents`)]);
    history.replaceChildren(...events.items.slice().reverse().map((e) => h("li", {},
      ago(e.at), " ", e.from ? `${e.from.replaceAll("_", " ")} → ` : "",
      e.to ? stateBadge(e.to) : null, e.message ? h("span", { class: "muted" }, ` ${e.message}`) : null,
      e.actor ? h("span", { class: "muted actor" }, ` · ${e.actor}`) : null)));
    subtasksPart.draw(subtasks.items, task.subtaskStatus);
    depsPart.draw(task, deps.items);
    dependentsList.replaceChildren(taskList(dependents.items, "No task waits for this one."));
  };

  // Redraw when the task changed (its version moves with every write), not on every poll.
  const refreshTask = async () => {
    task = await get(`/api/tasks/${taskId}`);
    if (task.version === drawnVersion) return;
    drawnVersion = task.version;
    drawTask();
    // Pushed lines need no read; a poll fills in while the socket is down.
    await Promise.all([refreshRelated(), live ? null : pollLogs()]);
  };

  const pollLogs = async () => {
    for (;;) {
      const page = await get(`/api/tasks/${taskId}/logs?after=${Math.max(0, logs.after() - LOG_OVERLAP)}&limit=200`);
      logs.add(page.items);
      if (!page.nextCursor) return;
    }
  };

  const every = (ms, work) => {
    const tick = async () => {
      try { await work(); } catch { /* a missed poll is retried on the next tick */ }
      if (!stopped) setTimeout(tick, ms);
    };
    setTimeout(tick, ms);
  };

  drawnVersion = task.version;
  drawTask();
  view.replaceChildren(top, h("div", { class: "detail-grid" }, logs.element, side),
    h("section", { "aria-labelledby": "events-h" }, h("h2", { id: "events-h" }, "Events"), history),
    related, comments.element);
  await Promise.all([refreshRelated(), logs.open().then(pollLogs), comments.load()]);
  // Lines and state changes pushed over the socket (live.js); the polls below only while it is down.
  const unfollow = follow(taskId, {
    after: () => logs.after(),
    onLines: (items) => logs.add(items),
    onState: (change) => { if (change.version !== drawnVersion) refreshTask().catch(() => {}); },
    // Said on the log section too: whether new lines come pushed or polled.
    onLive: (on) => { live = on; logs.element.dataset.live = String(on); },
  });
  let idle = 0;
  every(LOG_POLL_MS, async () => {
    if (!live && (LIVE_STATES.has(task.state) || (idle += 1) % SETTLED_EVERY === 0)) await pollLogs();
  });
  every(TASK_POLL_MS, async () => { if (!live) await refreshTask(); });
  return () => { stopped = true; unfollow(); };
}
