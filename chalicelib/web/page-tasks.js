// Tasks: the list with its filters (kept in the URL, so a filtered view can be bookmarked), sorted,
// searched and paged by the server ("Load more"), refreshed by asking whether each loaded page
// changed; the queue in start order with drag-and-drop reordering, and the bulk actions.
import { all, getIfChanged, post, url } from "./api.js";
import { TASK_STATES, ago, busy, confirmAction, duration, empty, enabledBadge, field, h, heading, link, money, repoName, select, skeleton, stateBadge, toast } from "./dom.js";

const REFRESH_MS = 4000;

/** The order the queue starts tasks in: priority, then the time each was queued, then id. */
function byQueueOrder(a, b) {
  return a.priority - b.priority || (a.queuedAt ?? a.createdAt).localeCompare(b.queuedAt ?? b.createdAt) || a.id.localeCompare(b.id);
}

function queueList(queued, onReorder) {
  let dragged = null;
  const list = h("ol", { class: "queue", "aria-label": "Queued tasks, in start order" });
  const order = () => [...list.children].map((item) => item.dataset.taskId);
  const move = (item, offset) => {
    const sibling = offset < 0 ? item.previousElementSibling : item.nextElementSibling;
    if (!sibling) return;
    list.insertBefore(item, offset < 0 ? sibling : sibling.nextElementSibling);
    onReorder(order());
  };
  for (const task of queued) {
    const item = h("li", { draggable: true, dataset: { taskId: task.id }, class: "queue-item" },
      h("span", { class: "grip", "aria-hidden": "true" }, "⋮⋮"),
      link(`/tasks/${task.id}`, task.title), h("span", { class: "muted" }, ` priority ${task.priority}`),
      h("span", { class: "actions" },
        h("button", { type: "button", class: "secondary small", "aria-label": `Move ${task.title} up`, onclick: () => move(item, -1) }, "↑"),
        h("button", { type: "button", class: "secondary small", "aria-label": `Move ${task.title} down`, onclick: () => move(item, 1) }, "↓")));
    item.addEventListener("dragstart", (event) => {
      dragged = item;
      item.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", task.id);
    });
    item.addEventListener("dragover", (event) => {
      if (!dragged || dragged === item) return;
      event.preventDefault();
      const { top, height } = item.getBoundingClientRect();
      list.insertBefore(dragged, event.clientY < top + height / 2 ? item : item.nextElementSibling);
    });
    item.addEventListener("drop", (event) => event.preventDefault());
    item.addEventListener("dragend", () => {
      item.classList.remove("dragging");
      dragged = null;
      onReorder(order());
    });
    list.append(item);
  }
  list.isDragging = () => dragged !== null;
  return list;
}

const TYPES = [["repo-task", "Repo tasks"], ["repo-blueprint", "Scheduled repo tasks"], ["standalone", "Standalone tasks"], ["all", "All types"]];
const SORTS = [["created", "Newest first"], ["priority", "Priority (first to start)"], ["cost", "Cost (highest first)"]];
// One page of the list: "Load more" asks for the next.
const PAGE_SIZE = 50;
const SEARCH_DELAY_MS = 250;
const CANCELLABLE = new Set(["pending", "waiting_on_deps", "queued", "provisioning", "running", "needs_attention", "pr_opened"]);
const RETRYABLE = new Set(["failed", "cancelled"]);
const COLUMNS = ["Title", "State", "Agent", "PR", "CI", "Cost", "Duration", "Repo", "Priority", "Created"];

const isRepoTask = (t) => t.type === "repo-task" || !t.type;

function prCell(t) {
  if (!t.prUrl) return "—";
  return h("span", {}, h("a", { href: t.prUrl, target: "_blank", rel: "noopener" }, `#${t.prNumber ?? "PR"}`),
    t.prState ? h("span", { class: "muted" }, ` ${t.prState}`) : null);
}

function taskTable(tasks, selected, onSelect) {
  // Blueprints and standalone tasks have no state of their own: they read as active or paused, and
  // open on their scheduled-task page. Only repo tasks can be selected for the bulk actions.
  const check = (t) => h("td", { class: "select" }, isRepoTask(t)
    ? h("input", { type: "checkbox", "aria-label": `Select ${t.title}`, checked: selected.has(t.id),
      onchange: (event) => onSelect([t.id], event.currentTarget.checked) })
    : null);
  const row = (t) => isRepoTask(t)
    ? h("tr", { dataset: { taskId: t.id } }, check(t), h("td", {}, link(`/tasks/${t.id}`, t.title)), h("td", {}, stateBadge(t.state)),
      h("td", { class: "wide" }, t.agentType ?? "—"), h("td", { class: "wide" }, prCell(t)), h("td", { class: "wide" }, t.prChecksStatus ?? "—"),
      h("td", { class: "wide num" }, money(t.costUsd)), h("td", { class: "wide num" }, t.startedAt ? duration(t.startedAt, t.completedAt) : "—"),
      h("td", { class: "wide muted" }, repoName(t.repoUrl)), h("td", { class: "wide num" }, String(t.priority)), h("td", { class: "wide" }, ago(t.createdAt)))
    : h("tr", { dataset: { taskId: t.id } }, check(t), h("td", {}, link(`/tasks/scheduled/${t.id}`, t.name), h("span", { class: "muted" }, ` ${t.type}`)),
      h("td", {}, enabledBadge(t.enabled)), h("td", { class: "wide" }, t.agentRuntime ?? t.agentType ?? "—"), h("td", { class: "wide" }, "—"), h("td", { class: "wide" }, "—"),
      h("td", { class: "wide num" }, "—"), h("td", { class: "wide num" }, "—"), h("td", { class: "wide muted" }, repoName(t.repoUrl)),
      h("td", { class: "wide num" }, t.priority === undefined || t.priority === null ? "—" : String(t.priority)), h("td", { class: "wide" }, ago(t.createdAt)));
  const selectable = tasks.filter(isRepoTask).map((t) => t.id);
  const all = h("input", { type: "checkbox", "aria-label": "Select every task shown", disabled: !selectable.length,
    checked: selectable.length > 0 && selectable.every((id) => selected.has(id)),
    onchange: (event) => onSelect(selectable, event.currentTarget.checked) });
  return h("div", { class: "table-wrap" }, h("table", { class: "tasks" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "select" }, all),
      COLUMNS.map((c, i) => h("th", { scope: "col", class: i > 1 ? "wide" : null }, c)))),
    h("tbody", {}, tasks.map(row))));
}

export default async function tasksPage(view) {
  const params = new URLSearchParams(location.search);
  const repos = await all("/api/repos");
  const stateFilter = select("state", [["", "All states"], ...TASK_STATES.map((s) => [s, s.replaceAll("_", " ")])], params.get("state") ?? "");
  const repoFilter = select("repoId", [["", "All repos"], ...repos.map((r) => [r.id, r.repoUrl])], params.get("repoId") ?? "");
  const typeFilter = select("type", TYPES, TYPES.some(([t]) => t === params.get("type")) ? params.get("type") : "repo-task");
  const sortBy = select("sort", SORTS, SORTS.some(([s]) => s === params.get("sort")) ? params.get("sort") : "created");
  const search = h("input", { name: "q", type: "search", value: params.get("q") ?? "", placeholder: "Title or repo", autocomplete: "off" });
  // "My tasks": what the signed-in person (or key) created.
  const creatorFilter = select("createdBy", [["", "Anyone"], ["me", "Me"]], params.get("createdBy") === "me" ? "me" : "");
  const results = h("div", {}, skeleton(6));
  const status = h("p", { class: "visually-hidden", role: "status" });
  const selected = new Set();
  // The pages loaded so far, each as asked (`cursor`) and as answered (`etag`, `items`, `next`):
  // a refresh asks for each again with its ETag, and a page that did not change costs a 304.
  let pages = [];
  let queuePage = null;
  let queue = null;
  let lastOrder = "";
  let loaded = [];
  // Bumped by every new list (filters, sort, search): an answer to an older one is dropped.
  let generation = 0;

  const bulkBar = h("div", { class: "actions bulk-bar", hidden: true });
  const drawBulkBar = () => {
    const chosen = loaded.filter((t) => selected.has(t.id));
    const cancellable = chosen.filter((t) => CANCELLABLE.has(t.state));
    const retryable = chosen.filter((t) => RETRYABLE.has(t.state));
    bulkBar.hidden = chosen.length === 0;
    bulkBar.replaceChildren(h("span", {}, `${chosen.length} selected`),
      h("button", { type: "button", class: "secondary small", disabled: !cancellable.length,
        onclick: (e) => busy(e.currentTarget, () => each(cancellable, "cancel", "Cancel")) }, `Cancel selected (${cancellable.length})`),
      h("button", { type: "button", class: "secondary small", disabled: !retryable.length,
        onclick: (e) => busy(e.currentTarget, () => each(retryable, "retry", "Retry")) }, `Retry selected (${retryable.length})`),
      h("button", { type: "button", class: "secondary small", onclick: () => { selected.clear(); redraw(); } }, "Clear selection"));
  };
  const onSelect = (ids, on) => {
    for (const id of ids) (on ? selected.add(id) : selected.delete(id));
    drawBulkBar();
    if (ids.length > 1) redraw();
  };

  /** Cancels or retries the chosen tasks, one request each, after a confirmation with their number. */
  const each = async (tasks, action, verb) => {
    const word = `${tasks.length} task${tasks.length === 1 ? "" : "s"}`;
    if (!await confirmAction(`${verb} ${word}?`, tasks.slice(0, 5).map((t) => t.title).join(", ") + (tasks.length > 5 ? ", …" : ""), `${verb} ${word}`)) return;
    const outcomes = await Promise.allSettled(tasks.map((t) => post(`/api/tasks/${t.id}/${action}`)));
    const done = outcomes.filter((o) => o.status === "fulfilled").length;
    toast(`${verb}: ${done} of ${tasks.length} tasks.`);
    selected.clear();
    await refresh();
  };

  // Sorting is the server's, for repo tasks: blueprints and standalone tasks list newest first.
  const sortable = () => typeFilter.value === "repo-task";
  const listQuery = () => {
    // Only the fields a row shows: a page that changed costs a few hundred bytes a task.
    const query = new URLSearchParams({ type: typeFilter.value, view: "summary", limit: String(PAGE_SIZE) });
    for (const control of [stateFilter, repoFilter, creatorFilter]) if (control.value) query.set(control.name, control.value);
    if (search.value.trim()) query.set("q", search.value.trim());
    if (sortable() && sortBy.value !== "created") query.set("sort", sortBy.value);
    return query;
  };
  // The queue beside the list: the queued repo tasks the filters keep, in start order.
  const queueQuery = () => {
    if (!["repo-task", "all"].includes(typeFilter.value) || !["", "queued"].includes(stateFilter.value)) return null;
    const query = new URLSearchParams({ type: "repo-task", state: "queued", sort: "priority", view: "summary", limit: String(PAGE_SIZE) });
    for (const control of [repoFilter, creatorFilter]) if (control.value) query.set(control.name, control.value);
    if (search.value.trim()) query.set("q", search.value.trim());
    return query;
  };
  const pagePath = (query, cursor) => `/api/tasks?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;

  /** The list from its first page, for the filters now shown; what was shown stays until it arrives. */
  const load = async () => {
    const mine = ++generation;
    const query = listQuery();
    const asked = queueQuery();
    results.setAttribute("aria-busy", "true");
    const [first, queued] = await Promise.all([getIfChanged(pagePath(query, null)),
      asked ? getIfChanged(pagePath(asked, null)) : null]).finally(() => {
      if (mine === generation) results.removeAttribute("aria-busy");
    });
    if (mine !== generation) return;
    pages = [{ query: query.toString(), cursor: null, etag: first.etag, items: first.body.items, next: first.body.nextCursor }];
    queuePage = queued && { query: asked.toString(), etag: queued.etag, items: queued.body.items };
    redraw();
  };

  const loadMore = async () => {
    const mine = generation;
    const last = pages[pages.length - 1];
    const more = await getIfChanged(pagePath(last.query, last.next));
    if (mine !== generation) return;
    pages.push({ query: last.query, cursor: last.next, etag: more.etag, items: more.body.items, next: more.body.nextCursor });
    redraw();
  };

  /** Each loaded page asked again with its ETag: only a changed page is downloaded. A page whose
   * end moved (a task's cost grew past it) changes where the next one starts: those after it are
   * asked afresh. */
  const refresh = async () => {
    if (queue?.isDragging() || !pages.length) return;
    const mine = generation;
    let changed = false;
    const next = [];
    let cursor = null;
    for (const [index, shown] of pages.entries()) {
      const same = index === 0 || cursor === shown.cursor;
      const answer = await getIfChanged(pagePath(shown.query, cursor), same ? shown.etag : null);
      if (mine !== generation) return;
      const page = answer.changed ? { query: shown.query, cursor, etag: answer.etag, items: answer.body.items, next: answer.body.nextCursor } : shown;
      changed ||= answer.changed;
      next.push(page);
      cursor = page.next;
      if (!cursor) break;
    }
    if (queuePage) {
      const answer = await getIfChanged(pagePath(queuePage.query, null), queuePage.etag);
      if (mine !== generation) return;
      if (answer.changed) queuePage = { query: queuePage.query, etag: answer.etag, items: answer.body.items };
      changed ||= answer.changed;
    }
    pages = next;
    if (!changed) return;
    // A checkbox in use keeps the focus across a redraw.
    const focused = results.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    redraw();
    if (focused) results.querySelector(`[aria-label="${CSS.escape(focused)}"]`)?.focus();
  };

  // The filters stay in the URL (a bookmark opens the same view) without reloading the page: the
  // list updates in place, and the control in use keeps the keyboard focus.
  const applyFilters = () => {
    const next = new URLSearchParams();
    for (const control of [stateFilter, repoFilter, creatorFilter, search]) if (control.value) next.set(control.name, control.value);
    if (typeFilter.value !== "repo-task") next.set("type", typeFilter.value);
    if (sortBy.value !== "created") next.set("sort", sortBy.value);
    const query = next.toString();
    history.replaceState(null, "", url(`/tasks${query ? `?${query}` : ""}`));
    sortBy.disabled = !sortable();
    load().catch(showError);
  };
  for (const control of [stateFilter, repoFilter, creatorFilter, typeFilter, sortBy]) control.addEventListener("change", applyFilters);
  let typing = 0;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(applyFilters, SEARCH_DELAY_MS);
  });

  const reorder = async (taskIds) => {
    if (taskIds.join() === lastOrder) return;
    lastOrder = taskIds.join();
    try {
      await post("/api/tasks/reorder", { taskIds });
      toast("Queue order saved.");
      await refresh();
    } catch (error) {
      toast(`Could not reorder: ${error.message}`);
    }
  };

  /** An answer the server refused (a sort over too many tasks): said in place of the list, with
   * the filters still there to narrow it. */
  const showError = (error) => {
    pages = [];
    results.replaceChildren(h("div", { class: "widget-error", role: "alert" }, h("p", {}, `Could not load the tasks: ${error.message}`),
      ...(error.details ?? []).map((d) => h("p", { class: "hint" }, `${d.field}: ${d.problem}`))));
  };

  const redraw = () => {
    // A task whose place changed between two pages can be on both: shown once.
    const seen = new Set();
    loaded = pages.flatMap((p) => p.items).filter((t) => !seen.has(t.id) && seen.add(t.id));
    const more = Boolean(pages.length && pages[pages.length - 1].next);
    const filtered = Boolean(location.search);
    const queued = (queuePage?.items ?? []).slice().sort(byQueueOrder);
    lastOrder = queued.map((t) => t.id).join();
    queue = queued.length > 1 ? queueList(queued, reorder) : null;
    const count = `${loaded.length}${more ? "+" : ""}`;
    results.replaceChildren(
      ...(queue ? [h("section", { "aria-labelledby": "queue-h" }, h("h2", { id: "queue-h" }, "Queue"),
        h("p", { class: "hint" }, "Drag tasks (or use the arrows) to change which starts first."), queue)] : []),
      h("section", { "aria-labelledby": "all-h" }, h("h2", { id: "all-h" }, `Tasks (${count})`), bulkBar,
        loaded.length ? taskTable(loaded, selected, onSelect)
          : empty(filtered ? "No task matches these filters." : "No tasks yet.",
            filtered ? "Change or clear the filters above." : "Create one: the agent works on it and opens a pull request.",
            link("/tasks/new", "New Task")),
        more ? h("p", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: (e) => busy(e.currentTarget, loadMore) }, "Load more")) : null));
    drawBulkBar();
    status.textContent = `${count} task${loaded.length === 1 && !more ? "" : "s"} shown.`;
  };

  // Asks first, saying how many tasks it touches now; the answer says how many it did.
  const bulk = (label, path, states, verb, effect) => h("button", { type: "button", class: "secondary", onclick: (event) => busy(event.currentTarget, async () => {
    const count = (await Promise.all(states.map((state) => all(`/api/tasks?type=repo-task&view=summary&state=${state}`)))).flat().length;
    if (!count) {
      toast(`No task to ${verb.toLowerCase()}.`);
      return;
    }
    const tasksWord = `${count} task${count === 1 ? "" : "s"}`;
    if (!await confirmAction(`${label}: ${tasksWord}?`, effect, `${verb} ${tasksWord}`)) return;
    const { affected, total } = await post(path);
    toast(`${verb}: ${affected} of ${total} tasks.`);
    await refresh();
  }) }, label);

  sortBy.disabled = !sortable();
  view.replaceChildren(
    heading("Tasks", bulk("Retry failed", "/api/tasks/bulk/retry-failed", ["failed"], "Retry",
      "Each failed task is queued again, with its automatic retries back."),
    bulk("Cancel active", "/api/tasks/bulk/cancel-active", ["pending", "waiting_on_deps", "queued", "provisioning", "running"], "Cancel",
      "Queued tasks are taken off the queue and running agents are stopped at once. Retry brings a task back, from the start."),
    link("/tasks/new", "New Task")),
    h("form", { class: "filters", role: "search", onsubmit: (event) => { event.preventDefault(); clearTimeout(typing); applyFilters(); } },
      field("Type", typeFilter), field("State", stateFilter), field("Repo", repoFilter), field("Created by", creatorFilter),
      field("Search", search), field("Sort by", sortBy)),
    status, results);
  await load().catch(showError);
  const timer = setInterval(() => { if (!document.hidden) refresh().catch(() => {}); }, REFRESH_MS);
  return () => clearInterval(timer);
}
