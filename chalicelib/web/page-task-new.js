// New Task: the form of SPEC §4's POST /api/tasks; the API's own validation speaks next to each field.
import { all, post } from "./api.js";
import { AGENT_TYPES, clearErrors, empty, field, h, heading, link, select, showErrors } from "./dom.js";

export default async function newTask(view, { navigate }) {
  const repos = await all("/api/repos");
  if (!repos.length) {
    view.replaceChildren(heading("New Task"), empty("No repository connected yet.",
      "A task runs against a repository: connect one first.", link("/repos", "Connect a repo")));
    return;
  }
  const repo = select("repoId", repos.map((r) => [r.id, r.repoUrl]), repos[0].id);
  const agent = select("agentType", AGENT_TYPES.map((a) => [a, a]), repos[0].defaultAgentType ?? "claude-code");
  repo.addEventListener("change", () => {
    agent.value = repos.find((r) => r.id === repo.value)?.defaultAgentType ?? agent.value;
  });
  const title = h("input", { name: "title", autocomplete: "off" });
  const prompt = h("textarea", { name: "prompt", rows: 8 });
  const priority = h("input", { name: "priority", type: "number", inputmode: "numeric", value: "0" });
  const submit = h("button", { type: "submit" }, "Create Task");
  // The API is the one validator (novalidate): its 400 names the field, shown right under it.
  const form = h("form", { class: "card", novalidate: true },
    field("Repository", repo),
    field("Title", title, "Becomes the branch name and the pull request's title."),
    field("Description", prompt, "The prompt the agent receives: what to change, where, and any constraints."),
    field("Priority", priority, "Lower numbers start first (0 to 1000)."),
    field("Agent", agent),
    h("p", { class: "form-error", role: "alert" }),
    h("div", { class: "actions" }, submit, link("/tasks/scheduled", "Schedule it instead")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    submit.disabled = true;
    const body = { repoId: repo.value, title: title.value.trim(), prompt: prompt.value, agentType: agent.value,
      priority: priority.value === "" ? 0 : Number(priority.value) };
    try {
      const task = await post("/api/tasks", body);
      navigate(`/tasks/${task.id}`);
    } catch (error) {
      showErrors(form, error);
      form.querySelector("[aria-invalid]")?.focus();
    } finally {
      submit.disabled = false;
    }
  });
  view.replaceChildren(heading("New Task"), form);
  title.focus();
}
