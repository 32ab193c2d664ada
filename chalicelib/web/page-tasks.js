// Tasks: the list with its filters (kept in the URL, so a filtered view can be bookmarked), the
// queue in start order with drag-and-drop reordering, and the bulk actions.
import { all, post } from "./api.js";
import { TASK_STATES, busy, confirmAction, empty, enabledBadge, field, h, heading, link, select, stateBadge, toast, when } from "./dom.js";

const REFRESH_MS = 4000;

function byQueueOrder(a, b) {
  return a.priority - b.priority || a.createdAt.localeCompare(b.createdAt);
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

function taskTable(tasks) {
  // Blueprints and standalone tasks have no state of their own: they read as active or paused, and
  // open on their scheduled-task page.
  const row = (t) => t.type === "repo-task" || !t.type
    ? h("tr", {}, h("td", {}, link(`/tasks/${t.id}`, t.title)), h("td", {}, stateBadge(t.state)),
      h("td", { class: "muted" }, t.repoUrl), h("td", {}, String(t.priority)), h("td", {}, when(t.createdAt)))
    : h("tr", {}, h("td", {}, link(`/tasks/scheduled/${t.id}`, t.name), h("span", { class: "muted" }, ` ${t.type}`)),
      h("td", {}, enabledBadge(t.enabled)), h("td", { class: "muted" }, t.repoUrl ?? "no repository"),
      h("td", {}, t.priority === undefined || t.priority === null ? "—" : String(t.priority)), h("td", {}, when(t.createdAt)));
  return h("table", { class: "tasks" },
    h("thead", {}, h("tr", {}, ["Title", "State", "Repo", "Priority", "Created"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, tasks.map(row)));
}

export default async function tasksPage(view, { navigate }) {
  const params = new URLSearchParams(location.search);
  const repos = await all("/api/repos");
  const stateFilter = select("state", [["", "All states"], ...TASK_STATES.map((s) => [s, s.replaceAll("_", " ")])], params.get("state") ?? "");
  const repoFilter = select("repoId", [["", "All repos"], ...repos.map((r) => [r.id, r.repoUrl])], params.get("repoId") ?? "");
  const typeFilter = select("type", TYPES, TYPES.some(([t]) => t === params.get("type")) ? params.get("type") : "repo-task");
  const search = h("input", { name: "q", type: "search", value: params.get("q") ?? "", placeholder: "Search titles" });
  // "My tasks": what the signed-in person (or key) created.
  const creatorFilter = select("createdBy", [["", "Anyone"], ["me", "Me"]], params.get("createdBy") === "me" ? "me" : "");
  const results = h("div", { "aria-live": "polite" });
  let queue = null;
  let lastOrder = "";
  let lastSnapshot = "";

  const applyFilters = () => {
    const next = new URLSearchParams();
    for (const control of [stateFilter, repoFilter, creatorFilter, search]) if (control.value) next.set(control.name, control.value);
    if (typeFilter.value !== "repo-task") next.set("type", typeFilter.value);
    const query = next.toString();
    navigate(`/tasks${query ? `?${query}` : ""}`);
  };
  stateFilter.addEventListener("change", applyFilters);
  repoFilter.addEventListener("change", applyFilters);
  creatorFilter.addEventListener("change", applyFilters);
  typeFilter.addEventListener("change", applyFilters);
  search.addEventListener("change", applyFilters);

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

  const refresh = async () => {
    if (queue?.isDragging()) return;
    const query = new URLSearchParams({ type: typeFilter.value });
    if (stateFilter.value) query.set("state", stateFilter.value);
    if (repoFilter.value) query.set("repoId", repoFilter.value);
    if (creatorFilter.value) query.set("createdBy", creatorFilter.value);
    const needle = search.value.trim().toLowerCase();
    const tasks = (await all(`/api/tasks?${query}`))
      .filter((t) => !needle || (t.title ?? t.name ?? "").toLowerCase().includes(needle));
    // Redraw only on a change, so a poll never steals the keyboard focus for nothing.
    const snapshot = JSON.stringify(tasks.map((t) => [t.id, t.title, t.state, t.priority, t.enabled]));
    if (snapshot === lastSnapshot) return;
    lastSnapshot = snapshot;
    const queued = tasks.filter((t) => t.state === "queued").sort(byQueueOrder);
    lastOrder = queued.map((t) => t.id).join();
    queue = queued.length > 1 ? queueList(queued, reorder) : null;
    // replaceChildren writes a null out as the text "null": no queue, no section.
    results.replaceChildren(
      ...(queue ? [h("section", { "aria-labelledby": "queue-h" }, h("h2", { id: "queue-h" }, "Queue"),
        h("p", { class: "hint" }, "Drag tasks (or use the arrows) to change which starts first."), queue)] : []),
      h("section", { "aria-labelledby": "all-h" }, h("h2", { id: "all-h" }, `Tasks (${tasks.length})`),
        tasks.length ? taskTable(tasks)
          : empty(params.toString() ? "No task matches these filters." : "No tasks yet.",
            params.toString() ? "Change or clear the filters above." : "Create one: the agent works on it and opens a pull request.",
            link("/tasks/new", "New Task"))));
  };

  // Asks first, saying how many tasks it touches now; the answer says how many it did.
  const bulk = (label, path, states, verb, effect) => h("button", { type: "button", class: "secondary", onclick: (event) => busy(event.currentTarget, async () => {
    const count = (await Promise.all(states.map((state) => all(`/api/tasks?state=${state}`)))).flat().length;
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

  view.replaceChildren(
    heading("Tasks", bulk("Retry failed", "/api/tasks/bulk/retry-failed", ["failed"], "Retry",
      "Each failed task is queued again, with its automatic retries back."),
    bulk("Cancel active", "/api/tasks/bulk/cancel-active", ["pending", "waiting_on_deps", "queued", "provisioning", "running"], "Cancel",
      "Queued tasks are taken off the queue and running agents are stopped at once. Retry brings a task back, from the start."),
    link("/tasks/new", "New Task")),
    h("form", { class: "filters", role: "search", onsubmit: (event) => { event.preventDefault(); applyFilters(); } },
      field("Type", typeFilter), field("State", stateFilter), field("Repo", repoFilter), field("Created by", creatorFilter), field("Title", search),
      h("button", { type: "submit", class: "secondary" }, "Filter")),
    results);
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  return () => clearInterval(timer);
}
