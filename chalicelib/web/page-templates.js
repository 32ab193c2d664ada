// Templates: saved prompts and settings; Run turns one into a task in one click.
import { all, patch, post } from "./api.js";
import { AGENT_TYPES, busy, clearErrors, empty, field, h, heading, select, showErrors } from "./dom.js";

function templateForm(repos, onSaved) {
  let editing = null;
  const name = h("input", { name: "name", autocomplete: "off" });
  const title = h("input", { name: "title", autocomplete: "off" });
  const prompt = h("textarea", { name: "prompt", rows: 6 });
  const repo = select("repoId", [["", "Choose when running"], ...repos.map((r) => [r.id, r.repoUrl])], repos[0]?.id ?? "");
  const agent = select("agentType", AGENT_TYPES.map((a) => [a, a]), "claude-code");
  const priority = h("input", { name: "priority", type: "number", value: "0" });
  const legend = h("h2", { id: "template-form-h" }, "New template");
  const submit = h("button", { type: "submit" }, "Create template");
  const cancel = h("button", { type: "button", class: "secondary", hidden: true }, "Cancel edit");
  const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "template-form-h" }, legend,
    field("Name", name), field("Task title", title, "Optional: the task's title; the name is used without one."),
    field("Prompt", prompt), field("Repository", repo), field("Agent", agent), field("Priority", priority),
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
    legend.textContent = `Edit ${template.name}`;
    submit.textContent = "Save template";
    cancel.hidden = false;
    name.focus();
  };
  return { form, edit };
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
        h("div", { class: "actions" },
          h("button", { type: "button", "aria-label": `Run ${t.name}`, onclick: (e) => busy(e.currentTarget, async () => navigate(`/tasks/${(await post(`/api/templates/${t.id}/run`)).id}`)) }, "Run"),
          h("button", { type: "button", class: "secondary", "aria-label": `Edit ${t.name}`, onclick: () => editor.edit(t) }, "Edit")))))
      : empty("No templates yet.", "Save a prompt you run often with the form below; then one click on Run creates a task."));
  };
  const editor = templateForm(repos, load);
  view.replaceChildren(heading("Templates"), h("div", { class: "split" }, list, editor.form));
  await load();
}
