// Overview: where things stand at a glance, refreshed while the page is open. Each part loads on
// its own: one failed request shows its error (with Retry) in its part, the others still show.
import { all, get } from "./api.js";
import { TASK_STATES, ago, empty, h, heading, link, money, stateBadge, widget } from "./dom.js";

const REFRESH_MS = 5000;

function startOfToday() {
  const day = new Date();
  day.setHours(0, 0, 0, 0);
  return day;
}

function startOfWeek() {
  const day = startOfToday();
  day.setDate(day.getDate() - ((day.getDay() + 6) % 7));
  return day;
}

function costSince(tasks, since) {
  return tasks
    .filter((t) => new Date(t.completedAt ?? t.finishedAt ?? t.updatedAt) >= since)
    .reduce((sum, t) => sum + Number(t.costUsd || 0), 0);
}

/** Runs of the standalone tasks (newest 50 of each): they cost and run too. */
async function standaloneRuns() {
  const configs = await all("/api/tasks?type=standalone");
  const lists = await Promise.all(configs.map(async (config) =>
    (await get(`/api/tasks/${config.id}/runs?limit=50`)).items.map((run) => ({ ...run, config }))));
  return lists.flat();
}

/** The most recently changed tasks, each with its latest state changes: one row per task. */
async function recentActivity(tasks) {
  const latest = [...tasks].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt)).slice(0, 6);
  return Promise.all(latest.map(async (task) => {
    const events = (await get(`/api/tasks/${task.id}/events`)).items.sort((a, b) => a.at.localeCompare(b.at));
    return { task, events: events.slice(-4) };
  }));
}

function section(id, title, part, hint) {
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), hint ? h("p", { class: "hint" }, hint) : null, part.element);
}

export default async function overview(view) {
  // One read of each list per refresh, shared by the parts that need it.
  let reads = null;
  const read = () => {
    reads ??= { tasks: all("/api/tasks?type=repo-task"), runs: standaloneRuns() };
    return reads;
  };
  const counts = widget(async () => {
    const tasks = await read().tasks;
    const byState = Object.fromEntries(TASK_STATES.map((s) => [s, 0]));
    for (const task of tasks) byState[task.state] += 1;
    return h("ul", { class: "counts" }, TASK_STATES.map((state) => h("li", {},
      link(`/tasks?state=${state}`, h("strong", { class: "count" }, String(byState[state])), stateBadge(state)))));
  }, 2);
  const cost = widget(async () => {
    const { tasks, runs } = read();
    const spent = [...await tasks, ...await runs];
    return h("dl", { class: "facts" },
      h("dt", {}, "Today"), h("dd", { "data-testid": "cost-today" }, money(costSince(spent, startOfToday()))),
      h("dt", {}, "This week"), h("dd", { "data-testid": "cost-week" }, money(costSince(spent, startOfWeek()))));
  }, 2);
  const running = widget(async () => {
    const { tasks, runs } = read();
    const active = (await tasks).filter((t) => t.state === "running" || t.state === "provisioning");
    const activeRuns = (await runs).filter((r) => r.state === "running");
    return active.length + activeRuns.length
      ? h("ul", { class: "rows" }, active.map((t) => h("li", {}, stateBadge(t.state), " ", link(`/tasks/${t.id}`, t.title),
        h("span", { class: "muted" }, " started "), ago(t.startedAt))),
      activeRuns.map((r) => h("li", {}, stateBadge(r.state), " ", link(`/tasks/scheduled/${r.config.id}?run=${r.id}`, `${r.config.name} (standalone run)`),
        h("span", { class: "muted" }, " started "), ago(r.startedAt))))
      : h("p", { class: "muted" }, "No agent is working right now.");
  }, 2);
  const activity = widget(async () => {
    const rows = await recentActivity(await read().tasks);
    return h("ul", { class: "rows activity" }, rows.map(({ task, events }) => h("li", {},
      h("div", {}, link(`/tasks/${task.id}`, task.title), " ", stateBadge(task.state), " ", h("span", { class: "muted" }, ago(task.updatedAt))),
      h("ol", { class: "transitions", "aria-label": `Latest changes of ${task.title}` }, events.map((e) => h("li", {},
        e.to ? e.to.replaceAll("_", " ") : "note", " ", h("span", { class: "muted" }, ago(e.at)), e.message ? h("span", { class: "muted" }, ` · ${e.message}`) : null))))));
  }, 4);
  const parts = [counts, cost, running, activity];
  const head = heading("Overview", link("/tasks/new", "New Task"));
  const refresh = async () => {
    reads = null;
    await Promise.all(parts.map((part) => part.load()));
  };
  // Nothing at all yet: a first step instead of empty charts (a failed read falls through to the parts).
  const [tasks, runs] = await Promise.allSettled([read().tasks, read().runs]);
  if (tasks.status === "fulfilled" && runs.status === "fulfilled" && !tasks.value.length && !runs.value.length) {
    view.replaceChildren(head, empty("No tasks yet.",
      "Connect a repository, then create a task: the agent works on it and opens a pull request.",
      link("/repos", "Connect a repo"), " ", link("/tasks/new", "Create a task")));
    return () => {};
  }
  view.replaceChildren(head,
    section("counts-h", "Tasks by state", counts),
    section("cost-h", "Cost", cost, "Repo tasks and standalone runs, by the day and week of your own time zone."),
    section("running-h", "Running now", running),
    section("activity-h", "Recent activity", activity));
  await Promise.all(parts.map((part) => part.load()));
  const timer = setInterval(() => refresh(), REFRESH_MS);
  return () => clearInterval(timer);
}
