// Issues: open GitHub issues of the connected repos (unassigned first), each with its labels, its
// linked task's state, and Assign to Optio (SPEC §8). The repo filter stays in the URL.
import { ApiError, all, get, post } from "./api.js";
import { ago, busy, empty, field, h, heading, link, select, stateBadge, toast } from "./dom.js";

function issueCard(issue, navigate) {
  const name = `${issue.repoName}#${issue.number}`;
  const assign = (event) => busy(event.currentTarget, async () => {
    const task = await post("/api/issues/assign", { repoId: issue.repoId, issueNumber: issue.number });
    toast(`${name} assigned to Optio.`);
    navigate(`/tasks/${task.id}`);
  });
  return h("li", { class: "card", dataset: { issue: name } },
    h("h3", {}, h("a", { href: issue.url, target: "_blank", rel: "noopener" }, name), ` ${issue.title}`),
    h("p", { class: "muted" }, "updated ", ago(issue.updatedAt), issue.assignee ? ` · assigned to ${issue.assignee}` : ""),
    issue.labels?.length ? h("ul", { class: "labels", "aria-label": "Labels" }, issue.labels.map((label) => h("li", { class: "badge" }, label))) : null,
    issue.task
      ? h("p", { class: "linked" }, "Optio task: ", stateBadge(issue.task.state), " ", link(`/tasks/${issue.task.taskId}`, "Open its task"))
      : h("button", { type: "button", "aria-label": `Assign ${name} to Optio`, onclick: assign }, "Assign to Optio"));
}

export default async function issues(view, { navigate }) {
  const settingsLink = link("/settings", "Open Settings");
  // Issues come from GitHub repositories only (a local path has none).
  const repos = (await all("/api/repos")).filter((r) => /^https:\/\/github\.com\/[^/]+\/[^/]+$/.test(r.repoUrl));
  const wanted = new URLSearchParams(location.search).get("repoId") ?? "";
  const repoFilter = select("repoId", [["", "All repos"], ...repos.map((r) => [r.id, r.repoUrl])], wanted);
  repoFilter.addEventListener("change", () => navigate(`/issues${repoFilter.value ? `?repoId=${encodeURIComponent(repoFilter.value)}` : ""}`));
  const filters = h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() }, field("Repo", repoFilter));
  if (!repos.length) {
    view.replaceChildren(heading("Issues"), empty("No GitHub repository connected.",
      "Connect your GitHub repositories (https://github.com/owner/name), and add a GITHUB_TOKEN secret in Settings: their open issues appear here.", link("/repos", "Connect a repo")));
    return;
  }
  let items;
  try {
    items = (await get(`/api/issues${wanted ? `?repoId=${encodeURIComponent(wanted)}` : ""}`)).items;
  } catch (error) {
    // 409: no GITHUB_TOKEN yet; the API says what to do.
    if (!(error instanceof ApiError) || error.status !== 409) throw error;
    view.replaceChildren(heading("Issues"), empty("GitHub is not connected.",
      `${error.message} (a token that can read and write issues), in Settings.`, settingsLink));
    return;
  }
  view.replaceChildren(heading("Issues"), filters, items.length
    ? h("ul", { class: "rows cards", "aria-label": `Open issues (${items.length})` }, items.map((issue) => issueCard(issue, navigate)))
    : empty("No open issues.", wanted ? "This repository has no open issue: pick another, or all repos."
      : "Open issues of your connected GitHub repositories appear here.", link("/repos", "Connect a repo")));
}
