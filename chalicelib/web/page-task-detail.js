// Task detail: state and pipeline, the agent's live logs, history, comments, related tasks, and
// the lifecycle actions its state allows.
import { ApiError, get, post } from "./api.js";
import { busy, clearErrors, confirmAction, copyButton, empty, field, h, heading, link, money, select, showErrors, stateBadge, toast, when } from "./dom.js";
import { follow } from "./live.js";
import { ACTIONS, STEPS, progress } from "./pipeline.js";

const LOG_POLL_MS = 700;
const TASK_POLL_MS = 1500;
const LOG_TYPES = ["text", "tool_use", "tool_result", "thinking", "permission", "retry", "error", "system"];
// Logs follow the agent closely while it may be working; a settled task is checked now and then.
const LIVE_STATES = new Set(["queued", "provisioning", "running"]);
const SETTLED_EVERY = 8;
// Each poll reads back this many sequence numbers before the newest one shown: a batch that became
// visible late (writers reserve numbers before writing) still shows, in order, and only once.
const LOG_OVERLAP = 20;
// Lines per read: the newest page on open, then each older one.
const LOG_PAGE = 200;

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
    ["Priority", String(task.priority)], ["Created", `${when(task.createdAt)}${task.createdBy ? ` by ${task.createdBy}` : ""}`], ["Started", when(task.startedAt)],
    ["Finished", when(task.completedAt)], ["Retries", `${task.retryCount} of ${task.maxRetries}`],
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

/** Log lines by sequence number: each line shows once, however the polls overlap. The newest
 * page comes first on open; older ones are read on demand ("Show older lines", or scrolling to
 * the top). Search highlights its matches and shows only the lines that have them; Follow keeps
 * the newest line in view; Download saves the lines read so far. */
function logView(taskId) {
  const seen = new Set();
  let lastSeq = 0;
  let olderCursor = null;
  let filter = "";
  let needle = "";
  const list = h("ol", { class: "logs", tabindex: "0", "aria-label": "Agent logs" });
  const waiting = h("p", { class: "muted" }, "No log lines yet: they appear here as the agent works.");
  const filterSelect = select("logType", [["", "All types"], ...LOG_TYPES.map((t) => [t, t.replace("_", " ")])], "");
  const search = h("input", { name: "logSearch", type: "search", placeholder: "Find in logs", autocomplete: "off" });
  const follow = h("input", { name: "follow", type: "checkbox", checked: true });
  const matches = h("span", { class: "muted", role: "status" });
  const older = h("button", { type: "button", class: "secondary small", hidden: true, onclick: (e) => busy(e.currentTarget, () => loadOlder()) }, "Show older lines");

  const paint = (item) => {
    const content = item.querySelector(".log-content");
    const text = content.textContent;
    const at = needle ? text.toLowerCase().indexOf(needle) : -1;
    if (at < 0) content.replaceChildren(text);
    else {
      // Every match marked, not only the first.
      const parts = [];
      let from = 0;
      for (let i = at; i >= 0; i = text.toLowerCase().indexOf(needle, from)) {
        parts.push(text.slice(from, i), h("mark", {}, text.slice(i, i + needle.length)));
        from = i + needle.length;
      }
      parts.push(text.slice(from));
      content.replaceChildren(...parts);
    }
    item.hidden = (Boolean(filter) && item.dataset.type !== filter) || (Boolean(needle) && at < 0);
  };
  const repaint = () => {
    for (const item of list.children) paint(item);
    matches.textContent = needle ? `${list.querySelectorAll("mark").length} matches` : "";
  };
  filterSelect.addEventListener("change", () => { filter = filterSelect.value; repaint(); });
  let typing = 0;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { needle = search.value.trim().toLowerCase(); repaint(); }, 200);
  });
  const lineItem = (line) => {
    const item = h("li", { dataset: { seq: String(line.seq), type: line.type } },
      line.at ? h("time", { datetime: line.at, title: when(line.at), class: "log-time" }, new Date(line.at).toLocaleTimeString()) : null, " ",
      h("span", { class: `log-type log-${line.type}` }, line.type), " ", h("span", { class: "log-content" }, line.content));
    paint(item);
    return item;
  };
  const place = (line) => {
    if (seen.has(line.seq)) return;
    seen.add(line.seq);
    const later = [...list.children].find((li) => Number(li.dataset.seq) > line.seq) ?? null;
    list.insertBefore(lineItem(line), later);
    lastSeq = Math.max(lastSeq, line.seq);
  };
  const add = (items) => {
    for (const line of items) place(line);
    waiting.hidden = list.children.length > 0;
    if (follow.checked) list.scrollTop = list.scrollHeight;
    if (needle) repaint();
  };
  const loadOlder = async () => {
    if (olderCursor === null) return;
    const page = await get(`/api/tasks/${taskId}/logs?order=desc&limit=${LOG_PAGE}&before=${olderCursor}`);
    const height = list.scrollHeight;
    for (const line of page.items) place(line);
    // Keep the line that was in view where it was.
    list.scrollTop += list.scrollHeight - height;
    olderCursor = page.nextCursor ?? null;
    older.hidden = olderCursor === null;
    if (needle) repaint();
  };
  list.addEventListener("scroll", () => {
    if (list.scrollTop === 0 && olderCursor !== null && !older.disabled) older.click();
    // Scrolled up by hand: stop following; back at the end: follow again.
    follow.checked = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  });
  const download = () => {
    const text = [...list.children].map((li) => `${li.querySelector("time")?.getAttribute("datetime") ?? ""}\t${li.dataset.type}\t${li.querySelector(".log-content").textContent}`).join("\n");
    const anchor = h("a", { href: URL.createObjectURL(new Blob([`${text}\n`], { type: "text/plain" })), download: `task-${taskId}.log` });
    anchor.click();
    setTimeout(() => URL.revokeObjectURL(anchor.href), 0);
  };
  const toEnd = () => {
    follow.checked = true;
    list.scrollTop = list.scrollHeight;
  };
  return {
    element: h("section", { "aria-labelledby": "logs-h" },
      h("div", { class: "page-head" }, h("h2", { id: "logs-h" }, "Logs"), field("Show", filterSelect)),
      h("div", { class: "actions log-tools" }, field("Find", search), matches, field("Follow", follow),
        h("button", { type: "button", class: "secondary small", onclick: toEnd }, "Jump to end"),
        h("button", { type: "button", class: "secondary small", onclick: download }, "Download")),
      older, waiting, list),
    /** The newest page first: one request however long the log. */
    open: async () => {
      const page = await get(`/api/tasks/${taskId}/logs?order=desc&limit=${LOG_PAGE}`);
      olderCursor = page.nextCursor ?? null;
      older.hidden = olderCursor === null;
      add(page.items);
    },
    after: () => Math.max(0, lastSeq - LOG_OVERLAP),
    add,
    // Force-redo deletes the logs; the numbering goes on, so only the view starts over.
    clear: () => { list.replaceChildren(); seen.clear(); olderCursor = null; older.hidden = true; waiting.hidden = false; },
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
      h("time", { datetime: c.createdAt, class: "muted" }, when(c.createdAt)), h("p", { class: "comment" }, c.body)))
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
  const logs = logView(taskId);
  const comments = commentsSection(taskId);
  const top = h("div", {});
  const side = h("section", { class: "side" });
  const history = h("ol", { class: "rows events" });
  const related = h("div", { class: "columns" });
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
      h("time", { datetime: e.at }, when(e.at)), " ", e.from ? `${e.from.replaceAll("_", " ")} → ` : "",
      e.to ? stateBadge(e.to) : null, e.message ? h("span", { class: "muted" }, ` ${e.message}`) : null,
      e.actor ? h("span", { class: "muted actor" }, ` · ${e.actor}`) : null)));
    const status = task.subtaskStatus;
    related.replaceChildren(
      h("section", { "aria-labelledby": "subtasks-h" }, h("h2", { id: "subtasks-h" }, "Subtasks"),
        status?.total ? h("p", { class: "muted" }, `${status.completed} of ${status.total} blocking subtasks done`) : null,
        taskList(subtasks.items, "No subtasks.")),
      h("section", { "aria-labelledby": "deps-h" }, h("h2", { id: "deps-h" }, "Depends on"), taskList(deps.items, "No dependencies.")),
      h("section", { "aria-labelledby": "dependents-h" }, h("h2", { id: "dependents-h" }, "Needed by"), taskList(dependents.items, "No task waits for this one.")));
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
      const page = await get(`/api/tasks/${taskId}/logs?after=${logs.after()}&limit=200`);
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
