"""Linear issues over its GraphQL API (`OPTIO_LINEAR_API_URL`), with the standard library."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from chalicelib.core.tickets import Ticket

ISSUES_QUERY = """
query OptioIssues($filter: IssueFilter, $after: String) {
  issues(filter: $filter, first: 50, after: $after) {
    nodes {
      id identifier title description url updatedAt
      assignee { name }
      labels { nodes { name } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
MAX_PAGES = 20
COMMENT_MUTATION = """
mutation OptioComment($input: CommentCreateInput!) { commentCreate(input: $input) { success } }
"""
STATES_QUERY = """
query OptioStates($filter: WorkflowStateFilter) { workflowStates(filter: $filter) { nodes { id name type } } }
"""
UPDATE_MUTATION = """
mutation OptioMove($id: String!, $input: IssueUpdateInput!) { issueUpdate(id: $id, input: $input) { success } }
"""


class LinearError(Exception):
    pass


def issue_filter(config: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {
        "team": {"key": {"eq": config["teamKey"]}},
        "state": {"type": {"nin": ["completed", "canceled"]}},
    }
    if config.get("projectId"):
        found["project"] = {"id": {"eq": config["projectId"]}}
    if config.get("label"):
        found["labels"] = {"some": {"name": {"eq": config["label"]}}}
    return found


def fetch(api_url: str, api_key: str, config: dict[str, Any]) -> list[Ticket]:
    tickets: list[Ticket] = []
    after: str | None = None
    for _ in range(MAX_PAGES):
        data = _graphql(api_url, api_key, ISSUES_QUERY, {"filter": issue_filter(config), "after": after})
        page = data["issues"]
        for node in page["nodes"]:
            tickets.append(Ticket(
                source="linear", key=str(node["id"]), title=str(node.get("title") or ""),
                body=node.get("description"), url=node.get("url"), identifier=node.get("identifier"),
                labels=tuple(str(label["name"]) for label in (node.get("labels") or {}).get("nodes") or []),
                assignee=(node.get("assignee") or {}).get("name"),
            ))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    return tickets


def comment(api_url: str, api_key: str, issue_id: str, text: str) -> None:
    _graphql(api_url, api_key, COMMENT_MUTATION, {"input": {"issueId": issue_id, "body": text}})


def move_to(api_url: str, api_key: str, issue_id: str, team_key: str, state: str | None) -> bool:
    """Moves the issue to the team's workflow state named `state` (any case), or to its first
    `completed` state when None; False when the team has no such state."""
    found = _graphql(api_url, api_key, STATES_QUERY, {"filter": {"team": {"key": {"eq": team_key}}}})
    for node in found["workflowStates"]["nodes"]:
        if (str(node["name"]).lower() == state.lower()) if state else node["type"] == "completed":
            _graphql(api_url, api_key, UPDATE_MUTATION, {"id": issue_id, "input": {"stateId": node["id"]}})
            return True
    return False


def _graphql(api_url: str, api_key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables}).encode()
    # Linear's personal API keys go in the Authorization header as they are, without "Bearer".
    request = urllib.request.Request(api_url, data=body, method="POST", headers={
        "Authorization": api_key, "Content-Type": "application/json", "User-Agent": "optio"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise LinearError(f"Linear answered {exc.code}: {exc.read().decode(errors='replace')[:300]}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise LinearError(f"Linear could not be reached: {exc}") from None
    if answer.get("errors"):
        raise LinearError("Linear refused the query: " + "; ".join(
            str(e.get("message")) for e in answer["errors"]))
    return dict(answer["data"])
