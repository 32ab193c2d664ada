// Scheduled tasks: blueprints and standalone tasks with their triggers (SPEC §7). The routes behind
// them arrive over time, so every part degrades to a plain statement of what is not there yet.
import { ApiError, all, get, patch, post } from "./api.js";
import { busy, empty, h, heading, link, stateBadge, toast, when } from "./dom.js";

async function optional(path, fallback) {
  try {
    return await get(path);
  } catch (error) {
    if (error instanceof ApiError && [404, 405].includes(error.status)) return fallback;
    throw error;
  }
}

function describe(trigger) {
  const config = trigger.config ?? {};
  const what = trigger.type === "schedule" ? `cron ${config.cronExpression}`
    : trigger.type === "webhook" ? `POST /api/hooks/${config.path}` : `${config.source} tickets`;
  return `${what}${trigger.enabled ? "" : " (paused)"}${trigger.nextFireAt ? `, next ${when(trigger.nextFireAt)}` : ""}`;
}

function configCard(config, reload, navigate) {
  const label = config.name ?? config.title ?? config.id;
  const triggers = h("ul", { class: "rows" }, h("li", { class: "muted" }, "Loading triggers…"));
  optional(`/api/tasks/${config.id}/triggers`, { items: [] }).then(({ items }) => triggers.replaceChildren(
    ...(items.length ? items.map((t) => h("li", {}, describe(t))) : [h("li", { class: "muted" }, "No trigger: it runs only when started by hand.")])));
  return h("li", { class: "card" },
    h("h3", {}, link(`/tasks/scheduled/${config.id}`, label)),
    h("p", { class: "muted" }, `${config.type}${config.enabled === false ? " · paused" : ""}`), triggers,
    h("div", { class: "actions" },
      // A paused config does not run, not even by hand (the API refuses it).
      h("button", { type: "button", "aria-label": `Run ${label} now`, disabled: config.enabled === false, onclick: (e) => busy(e.currentTarget, async () => {
        const run = await post(`/api/tasks/${config.id}/runs`, { params: {} });
        toast(`${label}: run started.`);
        if (run.type === "repo-task") navigate(`/tasks/${run.runId}`);
      }) }, "Run now"),
      h("button", { type: "button", class: "secondary", onclick: (e) => busy(e.currentTarget, async () => {
        await patch(`/api/tasks/${config.id}`, { enabled: config.enabled === false });
        await reload();
      }) }, config.enabled === false ? "Resume" : "Pause")));
}

async function detail(view, configId) {
  const config = await get(`/api/tasks/${configId}`);
  const runs = await optional(`/api/tasks/${configId}/runs`, { items: [] });
  view.replaceChildren(heading(config.name ?? config.title ?? "Scheduled task", link("/tasks/scheduled", "All scheduled tasks")),
    h("pre", { class: "prompt" }, config.prompt ?? config.promptTemplate ?? ""),
    h("h2", {}, "Runs"),
    runs.items.length ? h("ul", { class: "rows" }, runs.items.map((r) => h("li", {}, stateBadge(r.state), " ",
      r.title ? link(`/tasks/${r.id}`, r.title) : null, h("span", { class: "muted" }, ` ${when(r.startedAt ?? r.createdAt)}`))))
      : empty("No runs yet.", "Runs appear here when a trigger fires or you start one."));
}

export default async function scheduled(view, { params: [configId], navigate }) {
  if (configId) return detail(view, configId);
  const list = h("div", {});
  const load = async () => {
    const [blueprints, standalone] = await Promise.all([all("/api/tasks?type=repo-blueprint"), all("/api/tasks?type=standalone")]);
    const configs = [...blueprints, ...standalone];
    list.replaceChildren(configs.length ? h("ul", { class: "rows cards" }, configs.map((c) => configCard(c, load, navigate)))
      : empty("No scheduled tasks yet.",
        "A scheduled task is a saved repo task or standalone task that a cron schedule, a webhook or a ticket starts. "
        + "Creating them here is coming; until then create one with POST /api/tasks (type repo-blueprint or standalone) "
        + "and add a trigger with POST /api/tasks/:id/triggers.", link("/templates", "Use a template instead")));
  };
  view.replaceChildren(heading("Scheduled tasks"), list);
  await load();
  return undefined;
}
