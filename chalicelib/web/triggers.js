// Triggers (SPEC §7): the fields of a new one (schedule, webhook or ticket, each with its config:
// a schedule's params from the config's params schema, a webhook's param mapping and its tester),
// shared by New Task and the scheduled task's page, and how one reads in a list.
import { ApiError, post } from "./api.js";
import { ago, clearErrors, field, h, select, showErrors } from "./dom.js";
import { paramsForm } from "./params-form.js";

// The seeds' presets; cron is five fields, in UTC.
export const CRON_PRESETS = [
  ["0 * * * *", "Every hour"],
  ["0 0 * * *", "Daily at midnight (UTC)"],
  ["0 9 * * 1-5", "Weekdays at 9 AM (UTC)"],
  ["0 9 * * 1", "Weekly on Monday at 9 AM (UTC)"],
];
const TICKET_SOURCES = [["github", "GitHub issues"], ["linear", "Linear"], ["jira", "Jira Cloud"], ["notion", "Notion"]];

const MAPPING = "config.paramMapping";
const SAMPLE_PAYLOAD = '{"action": "created", "data": {"issue": {"title": "TypeError: cart is undefined", "project": {"slug": "checkout"}}}}';

/** A webhook's `paramMapping` as rows (param name -> JSONPath), the config's declared params offered
 * as names, and a tester: a sample payload sent to the API's dry run (`POST /api/tasks/:id/hooks/test`),
 * which maps and renders it as a real delivery would; each row shows what it extracted. */
function mappingRows(idPrefix) {
  let target = null;
  let count = 0;
  const names = h("datalist", { id: `${idPrefix}-declared` });
  const body = h("tbody", {});
  const mapping = () => Object.fromEntries([...body.rows]
    .map((row) => [row.querySelector(".map-name").value.trim(), row.querySelector(".map-path").value.trim()])
    .filter(([name, path]) => name || path));
  const row = (name = "", path = "") => {
    count += 1;
    const nameInput = h("input", { class: "map-name", id: `${idPrefix}-map-name-${count}`, value: name, autocomplete: "off",
      spellcheck: "false", list: names.id, placeholder: "error", "aria-label": `Param name, row ${count}` });
    const pathInput = h("input", { class: "map-path", id: `${idPrefix}-map-path-${count}`, value: path, autocomplete: "off",
      spellcheck: "false", placeholder: "$.data.issue.title", "aria-label": `JSONPath, row ${count}` });
    const error = h("p", { class: "field-error", id: `${pathInput.id}-error` });
    pathInput.setAttribute("aria-describedby", error.id);
    // The API names a bad expression `config.paramMapping.<name>`: the row's controls carry that name.
    const rename = () => {
      const field = `${MAPPING}.${nameInput.value.trim()}`;
      pathInput.name = field;
      error.dataset.errorFor = field;
    };
    const clear = () => { error.textContent = ""; pathInput.removeAttribute("aria-invalid"); };
    nameInput.addEventListener("input", () => { rename(); clear(); });
    pathInput.addEventListener("input", clear);
    rename();
    const extracted = h("td", { class: "map-value muted" }, "—");
    const tr = h("tr", {}, h("td", {}, nameInput), h("td", {}, pathInput, error), extracted,
      h("td", {}, h("button", { type: "button", class: "secondary small", "aria-label": `Remove row ${count}`,
        onclick: () => { tr.remove(); (body.querySelector("input") ?? add).focus(); } }, "Remove")));
    body.append(tr);
    return nameInput;
  };
  const add = h("button", { type: "button", class: "secondary small", onclick: () => row().focus() }, "Add a row");
  const payload = h("textarea", { name: "payload", id: `${idPrefix}-payload`, rows: 5, spellcheck: "false", placeholder: SAMPLE_PAYLOAD });
  const outcome = h("div", { class: "hook-outcome", "aria-live": "polite" });
  const showOutcome = (result) => {
    for (const tr of body.rows) {
      const name = tr.querySelector(".map-name").value.trim();
      const cell = tr.querySelector(".map-value");
      const found = Object.hasOwn(result.params, name);
      cell.className = found ? "map-value" : "map-value muted";
      cell.textContent = found ? JSON.stringify(result.params[name]) : "no match";
    }
    outcome.replaceChildren(result.problems.length
      ? h("div", { class: "error-text" }, h("p", {}, "A delivery like this would be refused:"),
        h("ul", {}, result.problems.map((p) => h("li", {}, `${p.field} ${p.problem}`))))
      : h("dl", { class: "facts" }, h("dt", {}, "Task title"), h("dd", { class: "hook-title" }, result.title),
        h("dt", {}, "Prompt"), h("dd", {}, h("pre", { class: "prompt hook-prompt" }, result.prompt))));
  };
  const test = h("button", { type: "button", class: "secondary", onclick: async (event) => {
    const form = event.currentTarget.closest("form") ?? element;
    clearErrors(form);
    try {
      showOutcome(await post(`/api/tasks/${target}/hooks/test`, { config: { paramMapping: mapping() }, payload: payload.value }));
    } catch (error) {
      outcome.replaceChildren();
      showErrors(form, error);
    }
  } }, "Test the mapping");
  const tester = h("details", { class: "hook-tester" }, h("summary", {}, "Test with a sample payload"),
    field("Sample payload (JSON)", payload, "Paste what the sender posts: the server maps it and renders the task as a real delivery would, and runs nothing."),
    h("div", { class: "actions" }, test), outcome);
  const notYet = h("p", { class: "muted" }, "The tester is on the scheduled task's page once it is saved.");
  const element = h("fieldset", { class: "param-mapping" }, h("legend", {}, "Parameter mapping (optional)"),
    h("p", { class: "hint" }, "Each row gives a param the value its JSONPath finds in the delivered body. Without rows, the whole body is the params."),
    names, h("div", { class: "table-wrap" }, h("table", { class: "mapping" },
      h("thead", {}, h("tr", {}, ["Param", "JSONPath", "Extracts"].map((c) => h("th", { scope: "col" }, c)),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Remove")))), body)),
    h("div", { class: "actions" }, add), tester, notYet);
  // A result speaks of the rows and payload it was given: editing either sets it aside.
  element.addEventListener("input", () => {
    outcome.replaceChildren();
    for (const cell of body.querySelectorAll(".map-value")) { cell.className = "map-value muted"; cell.textContent = "—"; }
  });
  row();
  const sync = () => { tester.hidden = !target; notYet.hidden = Boolean(target); };
  sync();
  return {
    element,
    mapping,
    setConfig(config) {
      target = config?.id ?? null;
      names.replaceChildren(...Object.keys(config?.paramsSchema?.properties ?? {}).map((name) => h("option", { value: name })));
      sync();
    },
  };
}

/** `{element, value(), setKind(kind), setConfig(config)}`: the type picker and the config fields of
 * the chosen type. Control names follow the API's problem paths (`config.cronExpression`), so its
 * 400s land here. `setConfig` gives the task config the trigger is for (its `paramsSchema`; its
 * `id`, once it exists, for the webhook tester). */
export function triggerFields(idPrefix = "t") {
  const named = (control) => { control.id = `${idPrefix}-${control.name}`; return control; };
  const type = named(select("triggerType", [["schedule", "Schedule (cron)"], ["webhook", "Webhook"], ["ticket", "Ticket"]], "schedule"));
  const preset = named(select("cronPreset", [...CRON_PRESETS, ["", "Custom…"]], CRON_PRESETS[1][0]));
  const cron = named(h("input", { name: "config.cronExpression", value: CRON_PRESETS[1][0], autocomplete: "off", spellcheck: "false" }));
  const params = named(h("textarea", { name: MAPPING, rows: 3, spellcheck: "false", placeholder: '{"REPO_NAME": "optio"}' }));
  const path = named(h("input", { name: "config.path", autocomplete: "off", placeholder: "sentry-to-task" }));
  const secret = named(h("input", { name: "config.secret", type: "password", autocomplete: "off" }));
  const source = named(select("config.source", TICKET_SOURCES, "github"));
  const labels = named(h("input", { name: "config.labels", autocomplete: "off", placeholder: "cve, security" }));
  const rows = mappingRows(idPrefix);
  preset.addEventListener("change", () => { if (preset.value) cron.value = preset.value; else cron.focus(); });
  cron.addEventListener("input", () => { preset.value = CRON_PRESETS.some(([c]) => c === cron.value.trim()) ? cron.value.trim() : ""; });
  // A schedule has no payload: its params are constants, asked for by the config's params schema
  // when it declares one (the API checks them against it), else given as a JSON object.
  const asJson = field("Params (optional)", params, "A JSON object: the params of every run, checked against the parameter schema now.");
  const scheduleParams = h("div", {}, asJson);
  let generated = null;
  const groups = {
    schedule: h("div", { class: "field-group" }, field("Repeat", preset),
      field("Cron expression", cron, "Five fields, in UTC: minute, hour, day of month, month, day of week."), scheduleParams),
    webhook: h("div", { class: "field-group" }, field("Webhook path", path, "External systems POST to /api/hooks/<path>; the mapped params (or the whole body) fill the title and prompt."),
      field("Signing secret (optional)", secret, "When set, requests must carry X-Optio-Signature: the HMAC-SHA256 of the body."), rows.element),
    ticket: h("div", { class: "field-group" }, field("Ticket source", source),
      field("Labels (optional)", labels, "Comma separated: only new tickets carrying all of them start a run.")),
  };
  // Only the chosen type's group is in the form: a schedule's params and a webhook's mapping rows
  // share names (`config.paramMapping.<param>`), and an error must land in the one shown.
  const chosen = h("div", {});
  const show = () => chosen.replaceChildren(groups[type.value]);
  type.addEventListener("change", show);
  show();
  const element = h("fieldset", { class: "trigger-fields" }, h("legend", {}, "Trigger"),
    field("Trigger type", type), chosen);
  return {
    element,
    type,
    value() {
      if (type.value === "schedule") {
        const config = { cronExpression: cron.value.trim() };
        if (generated) {
          const given = generated.read();
          if (Object.keys(given).length) config.paramMapping = given;
        } else if (params.value.trim()) {
          try {
            config.paramMapping = JSON.parse(params.value);
          } catch {
            // Named like the API's own problem, so it lands next to the field.
            throw new ApiError(400, { error: "invalid request", details: [{ field: MAPPING, problem: "is not valid JSON" }] });
          }
        }
        return { type: "schedule", config };
      }
      if (type.value === "webhook") {
        const config = { path: path.value.trim() };
        if (secret.value) config.secret = secret.value;
        const mapping = rows.mapping();
        if (Object.keys(mapping).length) config.paramMapping = mapping;
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
    setConfig(config) {
      rows.setConfig(config);
      const declared = Object.keys(config?.paramsSchema?.properties ?? {}).length > 0;
      generated = declared ? paramsForm(config.paramsSchema, `${idPrefix}-sp`, MAPPING) : null;
      scheduleParams.replaceChildren(generated
        ? h("fieldset", { class: "schedule-params" }, h("legend", {}, "Params of every run"), generated.element)
        : asJson);
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
  if (trigger.type === "webhook") {
    const mapped = Object.entries(config.paramMapping ?? {}).map(([name, path]) => `${name} ← ${path}`);
    return `Webhook: POST /api/hooks/${config.path}${config.hasSecret ? " (signed)" : ""}${mapped.length ? ` · maps ${mapped.join(", ")}` : ""}`;
  }
  const labels = config.labels?.length ? ` labelled ${config.labels.join(", ")}` : "";
  return `Ticket: new ${config.source} tickets${labels}`;
}

/** When it fires next and last fired, relative to now (the exact time on hover): the pieces of a line. */
export function triggerTimes(trigger) {
  const parts = [];
  if (trigger.type === "schedule" && trigger.enabled !== false && trigger.nextFireAt) parts.push("next ", ago(trigger.nextFireAt));
  if (trigger.lastFiredAt) parts.push(parts.length ? " · last fired " : "last fired ", ago(trigger.lastFiredAt));
  return parts;
}
