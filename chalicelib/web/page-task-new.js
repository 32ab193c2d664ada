// New Task (seeds: "Tasks -> New Task"): a repo task to run now, or a scheduled one (a blueprint and
// its trigger); with no repository, a standalone task. The API is the one validator (novalidate):
// its 400 names the field, shown right under it.
import { ApiError, all, del, post, url } from "./api.js";
import { AGENT_TYPES, clearErrors, field, h, heading, link, select, showErrors } from "./dom.js";
import { triggerFields } from "./triggers.js";

const STANDALONE = "";

function radio(name, value, label, checked) {
  const input = h("input", { type: "radio", name, value, id: `${name}-${value}`, checked });
  return h("label", { class: "segment", for: input.id }, input, h("span", {}, label));
}

/** `""` -> undefined; anything else a number (the API says what is wrong with it). */
function numberOrNothing(input) {
  return input.value.trim() === "" ? undefined : Number(input.value);
}

export default async function newTask(view, { navigate }) {
  const repos = await all("/api/repos");
  const params = new URLSearchParams(location.search);
  const startMode = params.get("mode") === "schedule" ? "schedule" : "now";

  const modes = h("fieldset", { class: "segmented", role: "radiogroup" }, h("legend", {}, "When"),
    radio("mode", "now", "Run now", startMode === "now"), radio("mode", "schedule", "Schedule", startMode === "schedule"));
  const wanted = params.get("repoId");
  const firstRepo = repos.find((r) => r.id === wanted)?.id ?? repos[0]?.id ?? STANDALONE;
  const repo = select("repoId", [...repos.map((r) => [r.id, r.repoUrl]), [STANDALONE, "No repository: a standalone task"]],
    params.get("standalone") === "1" ? STANDALONE : firstRepo);
  const agent = select("agentType", AGENT_TYPES.map((a) => [a, a]), repos[0]?.defaultAgentType ?? "claude-code");
  const name = h("input", { name: "name", autocomplete: "off" });
  const title = h("input", { name: "title", autocomplete: "off" });
  const prompt = h("textarea", { name: "prompt", rows: 8 });
  const branch = h("input", { name: "repoBranch", autocomplete: "off" });
  const defaultBranch = () => repos.find((r) => r.id === repo.value)?.defaultBranch ?? "main";
  const priority = h("input", { name: "priority", type: "number", inputmode: "numeric", value: "0", min: "0", max: "1000" });
  // Standalone tasks only.
  const summary = h("input", { name: "description", autocomplete: "off" });
  const schema = h("textarea", { name: "paramsSchema", rows: 6, spellcheck: "false",
    placeholder: '{"type": "object", "properties": {"TEAM": {"type": "string"}}, "required": ["TEAM"]}' });
  const maxTurns = h("input", { name: "maxTurns", type: "number", min: "1" });
  const budget = h("input", { name: "budgetUsd", type: "number", min: "0", step: "0.01" });
  const maxRetries = h("input", { name: "maxRetries", type: "number", min: "0", value: "1" });
  const maxConcurrent = h("input", { name: "maxConcurrent", type: "number", min: "1", value: "2" });
  const warmPoolSize = h("input", { name: "warmPoolSize", type: "number", min: "0", max: "10", value: "0" });
  const image = h("input", { name: "environment.image", id: "env-image", autocomplete: "off", placeholder: "the runner image" });
  const setup = h("textarea", { name: "environment.setupCommands", id: "env-setup", rows: 3, spellcheck: "false", placeholder: "pip install -r requirements.txt" });
  const secretNames = h("input", { name: "environment.secrets", id: "env-secrets", autocomplete: "off", placeholder: "SLACK_TOKEN, DATABASE_URL" });
  const trigger = triggerFields("new");
  // A standalone schedule's params are asked for by the schema typed above, once it reads as JSON
  // (what does not is said on submit, next to the schema); the form is made again only when the
  // schema changed, so params typed meanwhile stay.
  let appliedSchema;
  const paramsBySchema = () => {
    let parsed = null;
    try { parsed = standalone() && schema.value.trim() ? JSON.parse(schema.value) : null; } catch { /* reported on submit */ }
    const given = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : null;
    if (JSON.stringify(given) === appliedSchema) return;
    appliedSchema = JSON.stringify(given);
    trigger.setConfig({ paramsSchema: given });
  };
  schema.addEventListener("change", paramsBySchema);
  const submit = h("button", { type: "submit" }, "Create Task");

  const nameField = field("Name", name, "Names the scheduled task in the dashboard; defaults to the title.");
  const titleField = field("Title", title, "Becomes the branch name and the pull request's title.");
  const promptField = field("Description", prompt, "The prompt the agent receives: what to change, where, and any constraints.");
  const promptLabel = promptField.querySelector("label");
  const promptHint = promptField.querySelector(".hint");
  const priorityField = field("Priority", priority, "Lower numbers start first (0 to 1000; default 0).");
  const branchField = field("Base branch (optional)", branch, "The branch the work starts from; the repository's default when empty.");
  const standaloneFields = h("div", { class: "field-group" },
    field("Summary (optional)", summary, "What the task is for, as shown in the dashboard."),
    field("Parameter schema (optional)", schema, "A JSON Schema object: each run's params are checked against it, defaults filled in; the run form is built from it."),
    h("div", { class: "columns tight" }, field("Max turns", maxTurns), field("Budget (USD)", budget),
      field("Retries", maxRetries), field("Runs at once", maxConcurrent),
      field("Warm runners", warmPoolSize, "Kept started and waiting, so a run's agent starts at once (each holds its resources while idle).")),
    h("details", {}, h("summary", {}, "Environment (optional)"), h("div", { class: "field-group" },
      field("Image", image), field("Setup commands", setup, "One command per line, run before the agent starts."),
      field("Secrets", secretNames, "Comma separated names of secrets (see Settings) handed to the agent as environment variables."))));

  const form = h("form", { class: "card", novalidate: true, "aria-label": "New task" },
    modes, field("Repository", repo, repos.length ? null : h("span", {}, "No repository connected yet: ", link("/repos", "connect one"), " for a repo task.")),
    nameField, titleField, promptField, branchField, priorityField, field("Agent", agent), standaloneFields, trigger.element,
    h("p", { class: "form-error", role: "alert" }),
    h("div", { class: "actions" }, submit));

  const mode = () => form.querySelector('input[name="mode"]:checked').value;
  const standalone = () => repo.value === STANDALONE;
  const arrange = () => {
    const scheduling = mode() === "schedule";
    nameField.hidden = !scheduling && !standalone();
    nameField.querySelector(".hint").hidden = standalone();
    titleField.hidden = standalone();
    priorityField.hidden = standalone();
    branchField.hidden = standalone();
    branch.placeholder = standalone() ? "" : defaultBranch();
    standaloneFields.hidden = !standalone();
    trigger.element.hidden = !scheduling;
    trigger.setKind(standalone() ? "standalone" : "repo-blueprint");
    paramsBySchema();
    promptLabel.textContent = standalone() ? "Prompt template" : "Description";
    promptHint.textContent = standalone()
      ? "The agent's prompt; {{PARAM}} placeholders are filled from each run's params."
      : "The prompt the agent receives: what to change, where, and any constraints.";
    submit.textContent = scheduling ? "Create Schedule" : "Create Task";
    // The choice stays in the URL, so this form can be bookmarked as it is.
    const next = new URLSearchParams();
    if (scheduling) next.set("mode", "schedule");
    if (standalone() && repos.length) next.set("standalone", "1");
    const query = next.toString();
    history.replaceState(null, "", url(`/tasks/new${query ? `?${query}` : ""}`));
  };
  modes.addEventListener("change", arrange);
  repo.addEventListener("change", () => {
    agent.value = repos.find((r) => r.id === repo.value)?.defaultAgentType ?? agent.value;
    arrange();
  });
  arrange();

  const body = () => {
    if (standalone()) {
      const config = { type: "standalone", name: name.value.trim(), agentRuntime: agent.value, promptTemplate: prompt.value };
      if (summary.value.trim()) config.description = summary.value.trim();
      if (schema.value.trim()) {
        try {
          config.paramsSchema = JSON.parse(schema.value);
        } catch {
          throw new ApiError(400, { error: "invalid request", details: [{ field: "paramsSchema", problem: "is not valid JSON" }] });
        }
      }
      for (const [key, input] of [["maxTurns", maxTurns], ["budgetUsd", budget], ["maxRetries", maxRetries], ["maxConcurrent", maxConcurrent],
        ["warmPoolSize", warmPoolSize]]) {
        const value = numberOrNothing(input);
        if (value !== undefined) config[key] = value;
      }
      const environment = {};
      if (image.value.trim()) environment.image = image.value.trim();
      const commands = setup.value.split("\n").map((c) => c.trim()).filter(Boolean);
      if (commands.length) environment.setupCommands = commands;
      const names = secretNames.value.split(",").map((n) => n.trim()).filter(Boolean);
      if (names.length) environment.secrets = names;
      if (Object.keys(environment).length) config.environment = environment;
      return config;
    }
    const task = { repoId: repo.value, title: title.value.trim(), prompt: prompt.value, agentType: agent.value,
      priority: priority.value === "" ? 0 : Number(priority.value) };
    if (branch.value.trim()) task.repoBranch = branch.value.trim();
    if (mode() === "now") return task;
    return { type: "repo-blueprint", name: name.value.trim() || task.title, ...task };
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    submit.disabled = true;
    const aliases = { promptTemplate: "prompt", agentRuntime: "agentType", repoUrl: "repoId" };
    let created = null;
    try {
      const payload = body();
      if (mode() === "now" && !standalone()) {
        const task = await post("/api/tasks", payload);
        navigate(`/tasks/${task.id}`);
        return;
      }
      created = await post("/api/tasks", payload);
      if (mode() === "schedule") await post(`/api/tasks/${created.id}/triggers`, { ...trigger.value(), enabled: true });
      navigate(`/tasks/scheduled/${created.id}`);
    } catch (error) {
      // A schedule is the config and its trigger, or nothing: a refused trigger undoes the config.
      if (created) await del(`/api/tasks/${created.id}`).catch(() => {});
      showErrors(form, error, aliases);
      form.querySelector("[aria-invalid]")?.focus();
    } finally {
      submit.disabled = false;
    }
  });
  view.replaceChildren(heading("New Task", link("/tasks/scheduled", "Scheduled tasks")), form);
  (standalone() || mode() === "schedule" ? name : title).focus();
}
