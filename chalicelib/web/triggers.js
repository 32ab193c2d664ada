// Triggers (SPEC §7): the fields of a new one (schedule, webhook or ticket, each with its config),
// shared by New Task and the scheduled task's page, and how one reads in a list.
import { ApiError } from "./api.js";
import { field, h, select, when } from "./dom.js";

// The seeds' presets; cron is five fields, in UTC.
export const CRON_PRESETS = [
  ["0 * * * *", "Every hour"],
  ["0 0 * * *", "Daily at midnight (UTC)"],
  ["0 9 * * 1-5", "Weekdays at 9 AM (UTC)"],
  ["0 9 * * 1", "Weekly on Monday at 9 AM (UTC)"],
];
const TICKET_SOURCES = [["github", "GitHub issues"], ["linear", "Linear"], ["jira", "Jira Cloud"], ["notion", "Notion"]];

/** `{element, value(), setKind(kind)}`: the type picker and the config fields of the chosen type.
 * Control names follow the API's problem paths (`config.cronExpression`), so its 400s land here. */
export function triggerFields(idPrefix = "t") {
  const named = (control) => { control.id = `${idPrefix}-${control.name}`; return control; };
  const type = named(select("triggerType", [["schedule", "Schedule (cron)"], ["webhook", "Webhook"], ["ticket", "Ticket"]], "schedule"));
  const preset = named(select("cronPreset", [...CRON_PRESETS, ["", "Custom…"]], CRON_PRESETS[1][0]));
  const cron = named(h("input", { name: "config.cronExpression", value: CRON_PRESETS[1][0], autocomplete: "off", spellcheck: "false" }));
  const params = named(h("textarea", { name: "config.paramMapping", rows: 3, spellcheck: "false", placeholder: '{"REPO_NAME": "optio"}' }));
  const path = named(h("input", { name: "config.path", autocomplete: "off", placeholder: "sentry-to-task" }));
  const secret = named(h("input", { name: "config.secret", type: "password", autocomplete: "off" }));
  const source = named(select("config.source", TICKET_SOURCES, "github"));
  const labels = named(h("input", { name: "config.labels", autocomplete: "off", placeholder: "cve, security" }));
  preset.addEventListener("change", () => { if (preset.value) cron.value = preset.value; else cron.focus(); });
  cron.addEventListener("input", () => { preset.value = CRON_PRESETS.some(([c]) => c === cron.value.trim()) ? cron.value.trim() : ""; });
  const groups = {
    schedule: h("div", { class: "field-group" }, field("Repeat", preset),
      field("Cron expression", cron, "Five fields, in UTC: minute, hour, day of month, month, day of week."),
      field("Params (optional)", params, "A JSON object: the params of every run, checked against the parameter schema now.")),
    webhook: h("div", { class: "field-group" }, field("Webhook path", path, "External systems POST to /api/hooks/<path>; the body becomes the run's params."),
      field("Signing secret (optional)", secret, "When set, requests must carry X-Optio-Signature: the HMAC-SHA256 of the body.")),
    ticket: h("div", { class: "field-group" }, field("Ticket source", source),
      field("Labels (optional)", labels, "Comma separated: only new tickets carrying all of them start a run.")),
  };
  const show = () => { for (const [name, group] of Object.entries(groups)) group.hidden = name !== type.value; };
  type.addEventListener("change", show);
  show();
  const element = h("fieldset", { class: "trigger-fields" }, h("legend", {}, "Trigger"),
    field("Trigger type", type), ...Object.values(groups));
  return {
    element,
    type,
    value() {
      if (type.value === "schedule") {
        const config = { cronExpression: cron.value.trim() };
        if (params.value.trim()) {
          try {
            config.paramMapping = JSON.parse(params.value);
          } catch {
            // Named like the API's own problem, so it lands next to the field.
            throw new ApiError(400, { error: "invalid request", details: [{ field: "config.paramMapping", problem: "is not valid JSON" }] });
          }
        }
        return { type: "schedule", config };
      }
      if (type.value === "webhook") {
        const config = { path: path.value.trim() };
        if (secret.value) config.secret = secret.value;
        return { type: "webhook", config };
      }
      const config = { source: source.value };
      const wanted = labels.value.split(",").map((l) => l.trim()).filter(Boolean);
      if (wanted.length) config.labels = wanted;
      return { type: "ticket", config };
    },
    /** Standalone tasks take schedule and webhook triggers only (the seeds' table). */
    setKind(kind) {
      const ticket = type.querySelector('option[value="ticket"]');
      ticket.hidden = ticket.disabled = kind === "standalone";
      if (kind === "standalone" && type.value === "ticket") type.value = "schedule";
      show();
    },
  };
}

/** What fires a trigger, in words. */
export function describeTrigger(trigger) {
  const config = trigger.config ?? {};
  if (trigger.type === "schedule") {
    const preset = CRON_PRESETS.find(([cron]) => cron === config.cronExpression);
    const given = Object.entries(config.paramMapping ?? {}).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
    return `Schedule: cron ${config.cronExpression}${preset ? ` · ${preset[1].charAt(0).toLowerCase()}${preset[1].slice(1)}` : " (UTC)"}${given.length ? ` · params ${given.join(", ")}` : ""}`;
  }
  if (trigger.type === "webhook") return `Webhook: POST /api/hooks/${config.path}${config.hasSecret ? " (signed)" : ""}`;
  const labels = config.labels?.length ? ` labelled ${config.labels.join(", ")}` : "";
  return `Ticket: new ${config.source} tickets${labels}`;
}

/** When it last fired and fires next (viewer's time zone). */
export function triggerTimes(trigger) {
  const parts = [];
  if (trigger.type === "schedule" && trigger.enabled !== false && trigger.nextFireAt) parts.push(`next ${when(trigger.nextFireAt)}`);
  if (trigger.lastFiredAt) parts.push(`last fired ${when(trigger.lastFiredAt)}`);
  return parts.join(" · ");
}
