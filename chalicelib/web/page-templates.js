// Templates: saved prompts and settings; Run turns one into a task in one click (a template without
// a repository, or with params, asks for them first).
import { ApiError, all, patch, post } from "./api.js";
import { AGENT_TYPES, busy, clearErrors, empty, field, h, heading, select, showErrors } from "./dom.js";
import { paramsForm } from "./params-form.js";

function templateForm(repos, onSaved) {
  let editing = null;
  const name = h("input", { name: "name", autocomplete: "off" });
  const title = h("input", { name: "title", autocomplete: "off" });
  const prompt = h("textarea", { name: "prompt", rows: 6 });
  const repo = select("repoId", [["", "Choose when running"], ...repos.map((r) => [r.id, r.repoUrl])], repos[0]?.id ?? "");
  const agent = select("agentType", AGENT_TYPES.map((a) => [a, a]), "claude-code");
  const priority = h("input", { name: "priority", type: "number", value: "0" });
  const schema = h("textarea", { name: "paramsSchema", rows: 4, spellcheck: "false",
    placeholder: '{"type": "object", "properties": {"AREA": {"type": "string"}}, "required": ["AREA"]}' });
  const legend = h("h2", { id: "template-form-h" }, "New template");
  const submit = h("button", { type: "submit" }, "Create template");
  const cancel = h("button", { type: "button", class: "secondary", hidden: true }, "Cancel edit");
  const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "template-form-h" }, legend,
    field("Name", name), field("Task title", title, "Optional: the task's title; the name is used without one."),
    field("Prompt", prompt, "{{param}} placeholders are filled from the params given at Run."), field("Repository", repo),
    field("Agent", agent), field("Priority", priority),
    field("Parameter schema (optional)", schema, "A JSON Schema object for the params; Run asks for them with a form built from it."),
    h("p", { class: "form-error", role: "alert" }), h("div", { class: "actions" }, submit, cancel));
  const reset = () => {
    editing = null;
    form.reset();
    clearErrors(form);
    legend.textContent = "New template";
    submit.textContent = "Create template";
    cancel.hidden = true;
  };
  cancel.addEventListener("click", reset);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = { name: name.value.trim(), prompt: prompt.value, agentType: agent.value,
      priority: priority.value === "" ? 0 : Number(priority.value) };
    if (title.value.trim()) body.title = title.value.trim();
    else if (editing) body.title = null;
    if (repo.value) body.repoId = repo.value;
    else if (editing) body.repoId = null;
    try {
      if (schema.value.trim()) {
        try {
          body.paramsSchema = JSON.parse(schema.value);
        } catch {
          throw new ApiError(400, { error: "invalid request", details: [{ field: "paramsSchema", problem: "is not valid JSON" }] });
        }
      } else if (editing) body.paramsSchema = null;
      await (editing ? patch(`/api/templates/${editing}`, body) : post("/api/templates", body));
      reset();
      await onSaved();
    } catch (error) {
      showErrors(form, error);
    }
  });
  const edit = (template) => {
    editing = template.id;
    name.value = template.name;
    title.value = template.title ?? "";
    prompt.value = template.prompt;
    repo.value = template.repoId ?? "";
    agent.value = template.agentType ?? "claude-code";
    priority.value = String(template.priority ?? 0);
    schema.value = template.paramsSchema ? JSON.stringify(template.paramsSchema, null, 2) : "";
    legend.textContent = `Edit ${template.name}`;
    submit.textContent = "Save template";
    cancel.hidden = false;
    name.focus();
  };
  return { form, edit };
}

/** Run in one click; or, when the template leaves the repository or params open, a small form first. */
function runControls(template, repos, navigate, edit) {
  const generated = paramsForm(template.paramsSchema, `run-${template.id}`);
  const needsRepo = !template.repoId && !template.repoUrl;
  const editButton = h("button", { type: "button", class: "secondary", "aria-label": `Edit ${template.name}`, onclick: edit }, "Edit");
  if (!needsRepo && generated.empty) {
    return h("div", { class: "actions" },
      h("button", { type: "button", "aria-label": `Run ${template.name}`, onclick: (e) => busy(e.currentTarget,
        async () => navigate(`/tasks/${(await post(`/api/templates/${template.id}/run`)).id}`)) }, "Run"), editButton);
  }
  const repo = select("repoId", repos.map((r) => [r.id, r.repoUrl]), repos[0]?.id);
  repo.id = `run-${template.id}-repo`;
  const form = h("form", { novalidate: true, hidden: true, "aria-label": `Run ${template.name} with` },
    needsRepo ? field("Repository", repo) : null, generated.element,
    h("p", { class: "form-error", role: "alert" }), h("button", { type: "submit" }, "Create the task"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      const body = { params: generated.read() };
      if (needsRepo) body.repoId = repo.value;
      navigate(`/tasks/${(await post(`/api/templates/${template.id}/run`, body)).id}`);
    } catch (error) {
      showErrors(form, error);
    }
  });
  const open = h("button", { type: "button", "aria-label": `Run ${template.name}`, "aria-expanded": "false", onclick: () => {
    form.hidden = !form.hidden;
    open.setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) form.querySelector("input, select, textarea")?.focus();
  } }, "Run…");
  return h("div", {}, h("div", { class: "actions" }, open, editButton), form);
}

export default async function templatesPage(view, { navigate }) {
  const repos = await all("/api/repos");
  const list = h("div", {});
  const load = async () => {
    const templates = await all("/api/templates");
    list.replaceChildren(templates.length
      ? h("ul", { class: "rows cards" }, templates.map((t) => h("li", { class: "card", dataset: { templateId: t.id } },
        h("h3", {}, t.name), h("p", { class: "muted clamp" }, t.prompt),
        h("p", { class: "muted" }, `${t.agentType ?? "claude-code"} · ${repos.find((r) => r.id === t.repoId)?.repoUrl ?? t.repoUrl ?? "no repo"}`),
        runControls(t, repos, navigate, () => editor.edit(t)))))
      : empty("No templates yet.", "Save a prompt you run often with the form below; then one click on Run creates a task."));
  };
  const editor = templateForm(repos, load);
  view.replaceChildren(heading("Templates"), h("div", { class: "split" }, list, editor.form));
  await load();
}
