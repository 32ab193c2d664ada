// Overview: where things stand at a glance, refreshed while the page is open.
import { all, get } from "./api.js";
import { TASK_STATES, empty, h, heading, link, money, stateBadge, when } from "./dom.js";

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

async function recentEvents(tasks) {
  const latest = [...tasks].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt)).slice(0, 6);
  const lists = await Promise.all(latest.map(async (task) =>
    (await get(`/api/tasks/${task.id}/events`)).items.map((event) => ({ ...event, task }))));
  return lists.flat().sort((a, b) => b.at.localeCompare(a.at)).slice(0, 10);
}

async function draw(view) {
  const [tasks, runs] = await Promise.all([all("/api/tasks?type=repo-task"), standaloneRuns()]);
  const head = heading("Overview", link("/tasks/new", "New Task"));
  if (!tasks.length && !runs.length) {
    view.replaceChildren(head, empty("No tasks yet.",
      "Connect a repository, then create a task: the agent works on it and opens a pull request.",
      link("/repos", "Connect a repo"), " ", link("/tasks/new", "Create a task")));
    return;
  }
  const counts = Object.fromEntries(TASK_STATES.map((s) => [s, 0]));
  for (const task of tasks) counts[task.state] += 1;
  const running = tasks.filter((t) => t.state === "running" || t.state === "provisioning");
  const runningRuns = runs.filter((r) => r.state === "running");
  const spent = [...tasks, ...runs];
  const events = await recentEvents(tasks);
  view.replaceChildren(head,
    h("section", { "aria-labelledby": "counts-h" }, h("h2", { id: "counts-h" }, "Tasks by state"),
      h("ul", { class: "counts" }, TASK_STATES.map((state) => h("li", {},
        link(`/tasks?state=${state}`, h("strong", { class: "count" }, String(counts[state])), stateBadge(state)))))),
    h("section", { "aria-labelledby": "cost-h" }, h("h2", { id: "cost-h" }, "Cost"),
      h("p", { class: "hint" }, "Repo tasks and standalone runs, by the day and week of your own time zone."),
      h("dl", { class: "facts" },
        h("dt", {}, "Today"), h("dd", { "data-testid": "cost-today" }, money(costSince(spent, startOfToday()))),
        h("dt", {}, "This week"), h("dd", { "data-testid": "cost-week" }, money(costSince(spent, startOfWeek()))))),
    h("section", { "aria-labelledby": "running-h" }, h("h2", { id: "running-h" }, "Running now"),
      running.length + runningRuns.length
        ? h("ul", { class: "rows" }, running.map((t) => h("li", {}, stateBadge(t.state), " ", link(`/tasks/${t.id}`, t.title),
          h("span", { class: "muted" }, ` started ${when(t.startedAt)}`))),
        runningRuns.map((r) => h("li", {}, stateBadge(r.state), " ", link(`/tasks/scheduled/${r.config.id}?run=${r.id}`, `${r.config.name} (standalone run)`),
          h("span", { class: "muted" }, ` started ${when(r.startedAt)}`))))
        : h("p", { class: "muted" }, "No agent is working right now.")),
    h("section", { "aria-labelledby": "activity-h" }, h("h2", { id: "activity-h" }, "Recent activity"),
      h("ul", { class: "rows" }, events.map((e) => h("li", {},
        h("time", { datetime: e.at }, when(e.at)), " ", link(`/tasks/${e.task.id}`, e.task.title), " ",
        e.from ? `${e.from.replaceAll("_", " ")} → ` : "", e.to ? stateBadge(e.to) : null, e.message ? h("span", { class: "muted" }, ` ${e.message}`) : null)))));
}

export default async function overview(view) {
  await draw(view);
  const timer = setInterval(() => draw(view).catch(() => {}), REFRESH_MS);
  return () => clearInterval(timer);
}
