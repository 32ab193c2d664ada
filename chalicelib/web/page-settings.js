// Settings: API keys (the token is shown once, at creation), secrets (names only, values
// write-only) and ticket providers (GitHub issues or Linear, synced into tasks).
import { all, api, ApiError, del, get, patch, post } from "./api.js";
import { AGENT_TYPES, busy, clearErrors, confirmAction, copyButton, empty, enabledBadge, field, h, heading, select, showErrors, toast, when } from "./dom.js";

function apiKeys() {
  const list = h("div", {});
  const shown = h("div", { "aria-live": "polite" });
  const load = async () => {
    const keys = await all("/api/auth/api-keys");
    list.replaceChildren(keys.length
      ? h("ul", { class: "rows" }, keys.map((k) => h("li", {}, h("strong", {}, k.name ?? "unnamed"), " ",
        h("code", {}, `${k.tokenPrefix}…`), h("span", { class: "muted" }, ` created ${when(k.createdAt)} `),
        h("button", { type: "button", class: "danger small", "aria-label": `Revoke ${k.name ?? k.tokenPrefix}`,
          onclick: (e) => busy(e.currentTarget, async () => {
            const label = k.name ?? `${k.tokenPrefix}…`;
            if (!await confirmAction(`Revoke the API key ${label}?`, "Scripts and CI that use it are refused from now on (1 key). This cannot be undone.", "Revoke 1 key")) return;
            await del(`/api/auth/api-keys/${k.id}`);
            toast(`API key ${label} revoked.`);
            await load();
          }) }, "Revoke"))))
      : empty("No API keys.", "Create one for scripts and CI; the admin token stays for you."));
  };
  const name = h("input", { name: "name", id: "key-name", autocomplete: "off" });
  const form = h("form", { novalidate: true }, field("Key name", name), h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit" }, "Create API key"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      const created = await post("/api/auth/api-keys", name.value.trim() ? { name: name.value.trim() } : {});
      form.reset();
      shown.replaceChildren(h("div", { class: "card notice" }, h("p", {}, "Copy this token now: it is not shown again."),
        h("code", { class: "token", "data-testid": "new-token" }, created.token), copyButton(created.token, "API token")));
      await load();
    } catch (error) {
      showErrors(form, error);
    }
  });
  return { element: h("section", { "aria-labelledby": "keys-h" }, h("h2", { id: "keys-h" }, "API keys"), shown, list, form), load };
}

function secrets() {
  const list = h("div", {});
  const load = async () => {
    const items = await all("/api/secrets");
    list.replaceChildren(items.length
      ? h("ul", { class: "rows" }, items.map((s) => h("li", {}, h("code", {}, s.name), h("span", { class: "muted" }, ` updated ${when(s.updatedAt)} `),
        h("button", { type: "button", class: "secondary small", "aria-label": `Replace the value of ${s.name}`,
          onclick: () => { name.value = s.name; value.value = ""; value.focus(); } }, "Replace value"), " ",
        h("button", { type: "button", class: "danger small", "aria-label": `Delete ${s.name}`,
          onclick: (e) => busy(e.currentTarget, async () => {
            if (!await confirmAction(`Delete the secret ${s.name}?`, "Its value is gone for good (1 secret); tasks and schedules that need it fail until it is set again.", "Delete 1 secret")) return;
            await del(`/api/secrets/${encodeURIComponent(s.name)}`);
            toast(`Secret ${s.name} deleted.`);
            await load();
          }) }, "Delete"))))
      : empty("No secrets.", "Add GITHUB_TOKEN for pull requests and issues, and your agents' API keys (ANTHROPIC_API_KEY, ...)."));
  };
  const name = h("input", { name: "name", id: "secret-name", autocomplete: "off", placeholder: "GITHUB_TOKEN" });
  const value = h("input", { name: "value", id: "secret-value", type: "password", autocomplete: "off" });
  const form = h("form", { novalidate: true }, field("Secret name", name), field("Value", value),
    h("p", { class: "form-error", role: "alert" }), h("button", { type: "submit" }, "Save secret"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!name.value.trim()) {
      showErrors(form, { details: [{ field: "name", problem: "is required" }] });
      return;
    }
    try {
      await api("PUT", `/api/secrets/${encodeURIComponent(name.value.trim())}`, { value: value.value });
      form.reset();
      await load();
    } catch (error) {
      showErrors(form, error);
    }
  });
  return { element: h("section", { "aria-labelledby": "secrets-h" }, h("h2", { id: "secrets-h" }, "Secrets"), list, form), load };
}

const PROVIDER_KINDS = [["github", "GitHub issues"], ["linear", "Linear"], ["jira", "Jira Cloud"], ["notion", "Notion"]];
// Jira and Notion are configured as their JSON config (fields in the README), a starting point shown.
const CONFIG_EXAMPLES = {
  jira: { site: "https://acme.atlassian.net", projectKey: "ENG", label: "optio", email: "bot@acme.com", apiTokenSecret: "JIRA_API_TOKEN" },
  notion: { databaseId: "", statusProperty: "Status", todoState: "Not started", doneState: "Done", labelsProperty: "Tags", tokenSecret: "NOTION_TOKEN" },
};

function providerScope(provider) {
  const config = provider.config ?? {};
  if (provider.kind === "jira") return [config.site, config.jql ?? `project ${config.projectKey}`, config.label && `label ${config.label}`].filter(Boolean).join(" · ");
  if (provider.kind === "notion") return [`database ${config.databaseId}`, config.label && `label ${config.label}`].filter(Boolean).join(" · ");
  if (provider.kind === "github") {
    if (config.labels?.length) return `issues labelled ${config.labels.join(", ")}`;
    return config.assignee ? `issues assigned to ${config.assignee}` : "all open issues";
  }
  return [`team ${config.teamKey}`, config.projectId && `project ${config.projectId}`, config.label && `label ${config.label}`,
    `key in secret ${config.apiKeySecret ?? "LINEAR_API_KEY"}`].filter(Boolean).join(" · ");
}

function ticketProviders() {
  const list = h("div", {});
  let repos = [];
  const repoSelect = select("repoId", [], "");
  const load = async () => {
    const [items, connected] = await Promise.all([get("/api/ticket-providers").then((b) => b.items), all("/api/repos")]);
    repos = connected;
    const chosen = repoSelect.value;
    repoSelect.replaceChildren(...repos.map((r) => h("option", { value: r.id, selected: r.id === chosen }, r.repoUrl)));
    const repoName = (id) => repos.find((r) => r.id === id)?.repoUrl ?? id;
    list.replaceChildren(items.length
      ? h("ul", { class: "rows" }, items.map((p) => {
        const label = `the ${p.kind} provider of ${repoName(p.repoId)}`;
        return h("li", { class: "card", dataset: { providerId: p.id } },
          h("p", {}, h("strong", {}, Object.fromEntries(PROVIDER_KINDS)[p.kind] ?? p.kind), " → ", repoName(p.repoId), " ", enabledBadge(p.enabled)),
          h("p", { class: "muted" }, `${providerScope(p)} · agent ${p.agentType ?? "repo default"} · last sync ${when(p.lastSyncAt)}`),
          p.lastError ? h("p", { class: "error-text" }, `Last error: ${p.lastError}`) : null,
          h("div", { class: "actions" },
            h("button", { type: "button", class: "secondary small", "aria-label": `Sync ${label} now`, disabled: !p.enabled,
              onclick: (e) => busy(e.currentTarget, async () => {
                const { created } = await post(`/api/ticket-providers/${p.id}/sync`);
                toast(created.length ? `${created.length} new tasks.` : "Synced: no new tickets.");
                await load();
              }) }, "Sync now"),
            h("button", { type: "button", class: "secondary small", "aria-label": `${p.enabled ? "Pause" : "Resume"} ${label}`,
              onclick: (e) => busy(e.currentTarget, async () => { await patch(`/api/ticket-providers/${p.id}`, { enabled: !p.enabled }); await load(); }) },
            p.enabled ? "Pause" : "Resume"),
            h("button", { type: "button", class: "danger small", "aria-label": `Delete ${label}`,
              onclick: (e) => busy(e.currentTarget, async () => {
                if (!await confirmAction(`Delete ${label}?`, "Its issues are no longer synced into tasks (1 ticket source); the tasks made so far stay.", "Delete 1 source")) return;
                await del(`/api/ticket-providers/${p.id}`);
                toast(`${label} deleted.`);
                await load();
              }) }, "Delete")));
      }))
      : empty("No ticket providers.", "Add one below: new GitHub issues (by label, by assignee, or all) or Linear issues then become tasks by themselves."));
  };
  const kind = select("kind", PROVIDER_KINDS, "github");
  kind.id = "provider-kind";
  repoSelect.id = "provider-repo";
  const agent = select("agentType", [["", "Repo default"], ...AGENT_TYPES.map((a) => [a, a])], "");
  agent.id = "provider-agent";
  const input = (name, placeholder) => h("input", { name, id: `provider-${name.replace(".", "-")}`, autocomplete: "off", placeholder });
  const labels = input("config.labels", "optio, bug");
  const assignee = input("config.assignee", "octocat");
  const teamKey = input("config.teamKey", "ENG");
  const projectId = input("config.projectId");
  const label = input("config.label");
  const keySecret = input("config.apiKeySecret", "LINEAR_API_KEY");
  const github = h("div", { class: "field-group" }, field("Labels (optional)", labels, "Comma separated: issues carrying all of them. Leave labels and assignee empty for every issue."),
    field("Assignee (optional)", assignee));
  const linear = h("div", { class: "field-group" }, field("Team key", teamKey), field("Project id (optional)", projectId),
    field("Label (optional)", label), field("API key secret", keySecret, "The name of the secret holding the Linear API key (set it under Secrets)."));
  const json = h("textarea", { name: "config", id: "provider-config", rows: 6, spellcheck: "false" });
  const other = h("div", { class: "field-group" }, field("Config (JSON)", json, "Secrets by name (set them under Secrets), never their values."));
  const arrange = () => {
    github.hidden = kind.value !== "github"; linear.hidden = kind.value !== "linear"; other.hidden = !CONFIG_EXAMPLES[kind.value];
    if (CONFIG_EXAMPLES[kind.value]) json.value = JSON.stringify(CONFIG_EXAMPLES[kind.value], null, 2);
  };
  kind.addEventListener("change", arrange);
  arrange();
  const form = h("form", { novalidate: true, "aria-label": "Add a ticket provider" }, field("Provider", kind),
    field("Tasks go to", repoSelect), field("Agent", agent), github, linear, other,
    h("p", { class: "form-error", role: "alert" }), h("button", { type: "submit" }, "Add provider"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    let config = {};
    if (CONFIG_EXAMPLES[kind.value]) {
      try {
        config = JSON.parse(json.value);
      } catch {
        showErrors(form, new ApiError(400, { error: "invalid request", details: [{ field: "config", problem: "is not valid JSON" }] }));
        return;
      }
    } else if (kind.value === "github") {
      const wanted = labels.value.split(",").map((l) => l.trim()).filter(Boolean);
      if (wanted.length) config.labels = wanted;
      if (assignee.value.trim()) config.assignee = assignee.value.trim();
    } else {
      for (const [key, control] of [["teamKey", teamKey], ["projectId", projectId], ["label", label], ["apiKeySecret", keySecret]]) {
        if (control.value.trim()) config[key] = control.value.trim();
      }
    }
    const body = { kind: kind.value, repoId: repoSelect.value, config };
    if (agent.value) body.agentType = agent.value;
    try {
      await post("/api/ticket-providers", body);
      form.reset();
      arrange();
      toast("Ticket provider added.");
      await load();
    } catch (error) {
      showErrors(form, error);
    }
  });
  return { element: h("section", { "aria-labelledby": "providers-h" }, h("h2", { id: "providers-h" }, "Ticket providers"), list, form), load };
}

export default async function settingsPage(view) {
  const keys = apiKeys();
  const stored = secrets();
  const providers = ticketProviders();
  view.replaceChildren(heading("Settings"), h("nav", { class: "toc", "aria-label": "On this page" },
    h("a", { href: "#keys-h" }, "API keys"), h("a", { href: "#secrets-h" }, "Secrets"), h("a", { href: "#providers-h" }, "Ticket providers")),
  keys.element, stored.element, providers.element);
  await Promise.all([keys.load(), stored.load(), providers.load()]);
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}
