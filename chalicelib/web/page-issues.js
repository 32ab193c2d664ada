// Issues: open GitHub issues of the connected repos, each assignable to an agent (SPEC §8).
import { ApiError, get, hasRoute, post } from "./api.js";
import { busy, empty, h, heading, link, stateBadge, toast, when } from "./dom.js";

function issueCard(issue, navigate) {
  const assign = (event) => busy(event.currentTarget, async () => {
    const task = await post("/api/issues/assign", { repoId: issue.repoId, issueNumber: issue.number });
    toast("Assigned to Optio.");
    navigate(`/tasks/${task.id}`);
  });
  return h("li", { class: "card" },
    h("h3", {}, h("a", { href: issue.url, target: "_blank", rel: "noopener" }, `${issue.repoName}#${issue.number}`), ` ${issue.title}`),
    h("p", { class: "muted" }, `updated ${when(issue.updatedAt)}${issue.assignee ? ` · assigned to ${issue.assignee}` : ""} `,
      ...(issue.labels ?? []).map((label) => h("span", { class: "badge" }, label))),
    issue.task
      ? h("p", {}, stateBadge(issue.task.state), " ", link(`/tasks/${issue.task.taskId}`, "Open its task"))
      : h("button", { type: "button", "aria-label": `Assign ${issue.repoName}#${issue.number} to Optio`, onclick: assign }, "Assign to Optio"));
}

export default async function issues(view, { navigate }) {
  const settingsLink = link("/settings", "Open Settings");
  if (!(await hasRoute("/api/issues"))) {
    view.replaceChildren(heading("Issues"), empty("Issue browsing is coming.",
      "This page will list the open GitHub issues of your connected repos, with Assign to Optio on each. "
      + "It needs a GITHUB_TOKEN secret; add it in Settings now.", settingsLink));
    return;
  }
  let items;
  try {
    items = (await get("/api/issues")).items;
  } catch (error) {
    // 409: no GITHUB_TOKEN yet; the API says what to do.
    if (!(error instanceof ApiError) || error.status !== 409) throw error;
    view.replaceChildren(heading("Issues"), empty("GitHub is not connected.", `${error.message}.`, settingsLink));
    return;
  }
  view.replaceChildren(heading("Issues"), items.length
    ? h("ul", { class: "rows cards" }, items.map((issue) => issueCard(issue, navigate)))
    : empty("No open issues.", "Open issues of your connected GitHub repositories appear here.", link("/repos", "Connect a repo")));
}
