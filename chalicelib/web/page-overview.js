// Overview: where things stand at a glance, refreshed while the page is open. Each part loads on
// its own: one failed request shows its error (with Retry) in its part, the others still show.
import { all, get } from "./api.js";
import { barList, columnChart, ring } from "./charts.js";
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

const DAYS = 14;
const ACTIVE = new Set(["pending", "waiting_on_deps", "queued", "provisioning", "running"]);
const SERIES = [["completed", 2, (s) => s === "completed"], ["failed", 3, (s) => s === "failed"],
  ["active", 1, (s) => ACTIVE.has(s)], ["other", 5, () => true]];

/** The last DAYS days, oldest first, as local dates ("2026-12-02") with a short label. */
function lastDays() {
  const today = startOfToday();
  return Array.from({ length: DAYS }, (_, n) => {
    const day = new Date(today);
    day.setDate(day.getDate() - (DAYS - 1 - n));
    return { key: day.toDateString(), label: day.toLocaleDateString(undefined, { month: "numeric", day: "numeric" }) };
  });
}

/** The overview as pictures: tasks created per day by where they are now, cost per day and per
 * repository, the success rate of finished tasks, and the queue. */
function trends(tasks, runs) {
  const days = lastDays();
  const created = days.map(({ key, label }) => {
    const ofDay = tasks.filter((t) => new Date(t.createdAt).toDateString() === key);
    const parts = SERIES.map(([name, series, test]) => {
      const value = ofDay.filter((t) => test(t.state)).length;
      return { name, series, value };
    });
    // Each task counts once: in the first series it matches.
    let left = ofDay.length;
    for (const part of parts) {
      part.value = Math.min(part.value, left);
      left -= part.value;
    }
    return { label, parts };
  });
  const spent = [...tasks, ...runs];
  const finishedOn = (t) => new Date(t.completedAt ?? t.finishedAt ?? t.updatedAt).toDateString();
  const costs = days.map(({ key, label }) => ({ label, parts: [{ name: "cost", series: 1,
    value: spent.filter((t) => finishedOn(t) === key).reduce((sum, t) => sum + Number(t.costUsd || 0), 0) }] }));
  const perRepo = new Map();
  for (const task of tasks) perRepo.set(task.repoUrl, (perRepo.get(task.repoUrl) ?? 0) + Number(task.costUsd || 0));
  const repos = [...perRepo].map(([label, value]) => ({ label: String(label).replace(/^(https:\/\/github\.com\/|file:\/\/)/, ""), value }))
    .sort((a, b) => b.value - a.value).slice(0, 5);
  const completed = tasks.filter((t) => t.state === "completed").length;
  const failed = tasks.filter((t) => t.state === "failed").length;
  const share = completed + failed ? completed / (completed + failed) : 0;
  const queued = tasks.filter((t) => t.state === "queued");
  const oldest = queued.map((t) => t.queuedAt ?? t.createdAt).sort()[0];
  const total = (column) => column.parts.reduce((sum, p) => sum + p.value, 0);
  const money2 = (v) => money(v);
  return h("div", { class: "chart-grid" },
    h("figure", { class: "card chart-card wide-chart" }, h("figcaption", {}, `Tasks created per day, last ${DAYS} days, by state now`),
      columnChart(`Tasks created per day over the last ${DAYS} days: ${created.map((c) => `${c.label} ${total(c)}`).join(", ")}`, created),
      h("ul", { class: "legend" }, SERIES.map(([name, series]) => h("li", {}, h("span", { class: `swatch series-${series}` }), name)))),
    h("figure", { class: "card chart-card wide-chart" }, h("figcaption", {}, `Cost per day, last ${DAYS} days`),
      columnChart(`Cost per day over the last ${DAYS} days: ${costs.map((c) => `${c.label} ${money(total(c))}`).join(", ")}`, costs, money2)),
    h("figure", { class: "card chart-card" }, h("figcaption", {}, "Cost per repository (top 5)"),
      repos.length ? barList(`Cost per repository: ${repos.map((r) => `${r.label} ${money(r.value)}`).join(", ")}`, repos, money2) : h("p", { class: "muted" }, "No cost yet.")),
    h("figure", { class: "card chart-card" }, h("figcaption", {}, "Success rate of finished tasks"),
      ring(`Success rate: ${Math.round(share * 100)}% of ${completed + failed} finished tasks completed`, share),
      h("p", { class: "muted" }, `${completed} completed, ${failed} failed`)),
    h("figure", { class: "card chart-card" }, h("figcaption", {}, "The queue"),
      h("p", { class: "big-number", "data-testid": "queued-count" }, String(queued.length)),
      h("p", { class: "muted" }, queued.length ? h("span", {}, "waiting; the oldest queued ", ago(oldest)) : "Nothing waits for a slot."),
      link("/tasks?state=queued", "See the queue")));
}

function section(id, title, part, hint) {
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), hint ? h("p", { class: "hint" }, hint) : null, part.element);
}

export default async function overview(view) {
  // One read of each list per refresh, shared by the parts that need it; a failed read is
  // forgotten at once, so a part's Retry asks again.
  let reads = {};
  const once = (key, load) => {
    reads[key] ??= load().catch((error) => {
      delete reads[key];
      throw error;
    });
    return reads[key];
  };
  const readTasks = () => once("tasks", () => all("/api/tasks?type=repo-task"));
  const readRuns = () => once("runs", standaloneRuns);
  const counts = widget(async () => {
    const tasks = await readTasks();
    const byState = Object.fromEntries(TASK_STATES.map((s) => [s, 0]));
    for (const task of tasks) byState[task.state] += 1;
    return h("ul", { class: "counts" }, TASK_STATES.map((state) => h("li", {},
      link(`/tasks?state=${state}`, h("strong", { class: "count" }, String(byState[state])), stateBadge(state)))));
  }, 2);
  const cost = widget(async () => {
    const [tasks, runs] = await Promise.all([readTasks(), readRuns()]);
    const spent = [...tasks, ...runs];
    return h("dl", { class: "facts" },
      h("dt", {}, "Today"), h("dd", { "data-testid": "cost-today" }, money(costSince(spent, startOfToday()))),
      h("dt", {}, "This week"), h("dd", { "data-testid": "cost-week" }, money(costSince(spent, startOfWeek()))));
  }, 2);
  const running = widget(async () => {
    const [tasks, runs] = await Promise.all([readTasks(), readRuns()]);
    const active = tasks.filter((t) => t.state === "running" || t.state === "provisioning");
    const activeRuns = runs.filter((r) => r.state === "running");
    return active.length + activeRuns.length
      ? h("ul", { class: "rows" }, active.map((t) => h("li", {}, stateBadge(t.state), " ", link(`/tasks/${t.id}`, t.title),
        h("span", { class: "muted" }, " started "), ago(t.startedAt))),
      activeRuns.map((r) => h("li", {}, stateBadge(r.state), " ", link(`/tasks/scheduled/${r.config.id}?run=${r.id}`, `${r.config.name} (standalone run)`),
        h("span", { class: "muted" }, " started "), ago(r.startedAt))))
      : h("p", { class: "muted" }, "No agent is working right now.");
  }, 2);
  const activity = widget(async () => {
    const rows = await recentActivity(await readTasks());
    return h("ul", { class: "rows activity" }, rows.map(({ task, events }) => h("li", {},
      h("div", {}, link(`/tasks/${task.id}`, task.title), " ", stateBadge(task.state), " ", h("span", { class: "muted" }, ago(task.updatedAt))),
      h("ol", { class: "transitions", "aria-label": `Latest changes of ${task.title}` }, events.map((e) => h("li", {},
        e.to ? e.to.replaceAll("_", " ") : "note", " ", h("span", { class: "muted" }, ago(e.at)), e.message ? h("span", { class: "muted" }, ` · ${e.message}`) : null))))));
  }, 4);
  const pictures = widget(async () => {
    const [tasks, runs] = await Promise.all([readTasks(), readRuns()]);
    return trends(tasks, runs);
  }, 6);
  const parts = [counts, pictures, cost, running, activity];
  const head = heading("Overview", link("/tasks/new", "New Task"));
  const refresh = async () => {
    reads = {};
    await Promise.all(parts.map((part) => part.load()));
  };
  // Nothing at all yet: a first step instead of empty charts (a failed read falls through to the parts).
  const [tasks, runs] = await Promise.allSettled([readTasks(), readRuns()]);
  if (tasks.status === "fulfilled" && runs.status === "fulfilled" && !tasks.value.length && !runs.value.length) {
    view.replaceChildren(head, empty("No tasks yet.",
      "Connect a repository, then create a task: the agent works on it and opens a pull request.",
      link("/repos", "Connect a repo"), " ", link("/tasks/new", "Create a task")));
    return () => {};
  }
  view.replaceChildren(head,
    section("counts-h", "Tasks by state", counts),
    section("trends-h", "Trends", pictures),
    section("cost-h", "Cost", cost, "Repo tasks and standalone runs, by the day and week of your own time zone."),
    section("running-h", "Running now", running),
    section("activity-h", "Recent activity", activity));
  await Promise.all(parts.map((part) => part.load()));
  const timer = setInterval(() => refresh(), REFRESH_MS);
  return () => clearInterval(timer);
}
