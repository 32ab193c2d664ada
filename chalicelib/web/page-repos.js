// Repos: connect a repository and change its settings (SPEC §2's Repo fields).
import { all, del, patch, post } from "./api.js";
import { AGENT_TYPES, busy, clearErrors, confirmAction, empty, field, h, heading, select, showErrors, toast } from "./dom.js";

function settingsForm(repo, onChange) {
  const number = (name) => h("input", { name, type: "number", value: String(repo[name] ?? "") });
  const check = (name) => h("input", { name, type: "checkbox", checked: Boolean(repo[name]) });
  const controls = {
    defaultBranch: h("input", { name: "defaultBranch", value: repo.defaultBranch }),
    defaultAgentType: select("defaultAgentType", AGENT_TYPES.map((a) => [a, a]), repo.defaultAgentType),
    maxConcurrentTasks: number("maxConcurrentTasks"), warmPoolSize: number("warmPoolSize"),
    autoMerge: check("autoMerge"), autoResume: check("autoResume"), maxAutoResumes: number("maxAutoResumes"),
    reviewEnabled: check("reviewEnabled"),
    reviewTrigger: select("reviewTrigger", [["on_ci_pass", "when CI passes"], ["on_pr", "when the PR opens"]], repo.reviewTrigger),
    model: h("input", { name: "model", value: repo.model ?? "", placeholder: "agent default" }),
    maxTurnsCoding: number("maxTurnsCoding"), maxTurnsReview: number("maxTurnsReview"),
    setupCommands: h("textarea", { name: "setupCommands", rows: 3, spellcheck: "false" }, (repo.setupCommands ?? []).join("\n")),
    image: h("input", { name: "image", value: repo.image ?? "", placeholder: "the default runner image" }),
    customCommand: h("input", { name: "customCommand", value: repo.customCommand ?? "", placeholder: "for the custom agent type" }),
  };
  for (const control of Object.values(controls)) control.id = `${repo.id}-${control.name}`;
  const labels = { defaultBranch: "Default branch", defaultAgentType: "Default agent", maxConcurrentTasks: "Tasks at once",
    warmPoolSize: "Warm runners kept waiting",
    autoMerge: "Merge automatically when CI passes", autoResume: "Resume the agent on CI failures or review comments",
    maxAutoResumes: "Automatic resumes at most", reviewEnabled: "Review pull requests with an agent",
    reviewTrigger: "Review", model: "Model", maxTurnsCoding: "Turns at most (coding)", maxTurnsReview: "Turns at most (review)",
    setupCommands: "Setup commands (one per line)", image: "Image", customCommand: "Custom agent command" };
  const form = h("form", { class: "settings", novalidate: true },
    Object.entries(controls).map(([name, control]) => field(labels[name], control)),
    h("p", { class: "form-error", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save settings"),
      h("button", { type: "button", class: "danger", onclick: (e) => busy(e.currentTarget, async () => {
        if (!await confirmAction(`Disconnect ${repo.repoUrl}?`, "Optio forgets this repository and its settings (1 repository); its tasks and branches stay.", "Disconnect 1 repository")) return;
        await del(`/api/repos/${repo.id}`);
        toast(`${repo.repoUrl} disconnected.`);
        await onChange();
      }) }, "Disconnect")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = Object.fromEntries(Object.entries(controls)
      .filter(([, c]) => c.type !== "number" || c.value.trim() !== "")
      .map(([name, c]) => [name, c.type === "checkbox" ? c.checked : c.type === "number" ? Number(c.value) : c.value]));
    body.model = body.model.trim() || null;
    body.image = body.image.trim() || null;
    body.customCommand = body.customCommand.trim() || null;
    body.setupCommands = body.setupCommands.split("\n").map((c) => c.trim()).filter(Boolean);
    try {
      await patch(`/api/repos/${repo.id}`, body);
      toast("Settings saved.");
    } catch (error) {
      showErrors(form, error);
    }
  });
  return form;
}

export default async function reposPage(view) {
  const list = h("div", {});
  const load = async () => {
    const repos = await all("/api/repos");
    list.replaceChildren(repos.length
      ? h("ul", { class: "rows" }, repos.map((repo) => h("li", { class: "card" },
        h("details", {}, h("summary", {}, h("strong", {}, repo.repoUrl), h("span", { class: "muted" }, ` ${repo.defaultBranch} · ${repo.defaultAgentType}`)),
          settingsForm(repo, load)))))
      : empty("No repositories connected.", "Connect one below with its URL (a local path works in local mode)."));
  };
  const url = h("input", { name: "repoUrl", autocomplete: "off", placeholder: "https://github.com/acme/web" });
  const branch = h("input", { name: "defaultBranch", value: "main" });
  const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "connect-h" },
    h("h2", { id: "connect-h" }, "Connect a repository"), field("Repository URL", url), field("Default branch", branch),
    h("p", { class: "form-error", role: "alert" }), h("button", { type: "submit" }, "Connect"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      await post("/api/repos", { repoUrl: url.value.trim(), defaultBranch: branch.value.trim() || "main" });
      form.reset();
      await load();
    } catch (error) {
      showErrors(form, error);
    }
  });
  view.replaceChildren(heading("Repos"), h("div", { class: "split" }, list, form));
  await load();
}
