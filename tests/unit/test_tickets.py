"""Ticket providers, the pure parts: which GitHub issues a provider takes, the task a ticket
becomes, and the keys that make each ticket one task; webhook signatures and issue order."""
from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from chalicelib.core.issues import issue_key, issue_prompt, listing_order, valid_signature
from chalicelib.core.tickets import (
    Ticket,
    TicketTrigger,
    adf_text,
    disabled_because,
    handling_trigger,
    jira_jql,
    jira_ticket,
    notion_filter,
    notion_ticket,
    ticket_key,
    ticket_ref,
    ticket_task,
    trigger_params,
    trigger_wants,
    wanted_github,
    writeback_event,
    writeback_message,
)

ISSUE = Ticket(source="github", key="12", title="Fix it", body="Steps", url="https://github.com/a/b/issues/12",
               labels=("bug", "optio"), assignee="octocat", comments=("also this",))


def test_github_filters() -> None:
    assert wanted_github(None, ISSUE)
    assert wanted_github({"labels": ["optio"]}, ISSUE)
    assert not wanted_github({"labels": ["optio", "later"]}, ISSUE)
    assert wanted_github({"assignee": "OctoCat"}, ISSUE)
    assert not wanted_github({"assignee": "someone"}, ISSUE)


def test_keys_share_the_assign_claim_for_github() -> None:
    assert ticket_key("repo-1", ISSUE) == issue_key("repo-1", 12)
    linear = Ticket(source="linear", key="uuid-1", title="T", body=None, url=None, identifier="ENG-1")
    assert ticket_key("repo-1", linear) == "ticket#linear#uuid-1"


def test_ticket_task() -> None:
    fields = ticket_task(ISSUE)
    assert fields["title"] == "Fix it" and fields["metadata"]["issueNumber"] == 12
    assert "Steps" in fields["prompt"] and "- also this" in fields["prompt"]
    linear = ticket_task(Ticket(source="linear", key="u", title="Do", body="x", url="https://l/1",
                                identifier="ENG-1"))
    assert linear["title"] == "ENG-1: Do" and linear["metadata"]["ticketId"] == "u"


def test_issue_prompt_and_order() -> None:
    assert issue_prompt("T", "B", "https://x", ["c1"]) == "T\n\nB\n\nComments on the issue:\n- c1\n\nGitHub issue: https://x"
    items = [{"n": 1, "assignee": "x", "updatedAt": "2026-03-01"}, {"n": 2, "assignee": None, "updatedAt": "2026-01-01"},
             {"n": 3, "assignee": None, "updatedAt": "2026-02-01"}]
    assert [i["n"] for i in sorted(items, key=listing_order)] == [3, 2, 1]


def test_signature_is_checked_in_constant_time_shape() -> None:
    body = b'{"zen": "hi"}'
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert valid_signature("s3cret", body, good)
    assert not valid_signature("s3cret", body + b" ", good)
    assert not valid_signature("other", body, good)
    assert not valid_signature("", body, good)
    assert not valid_signature("s3cret", body, None)
    assert not valid_signature("s3cret", body, good.replace("sha256=", "sha1="))


BUG = Ticket(source="linear", key="abc", identifier="ENG-7", title="Crash", body=None,
             url="https://linear.app/acme/issue/ENG-7", labels=("Bug", "optio"))


@pytest.mark.parametrize(("config", "wanted"), [
    ({"source": "linear"}, True),
    ({"source": "linear", "labels": []}, True),
    ({"source": "linear", "labels": ["bug"]}, True),  # labels compare without case
    ({"source": "linear", "labels": ["bug", "OPTIO"]}, True),
    ({"source": "linear", "labels": ["bug", "urgent"]}, False),  # every label is needed
    ({"source": "github"}, False),
    ({"source": "github", "labels": ["bug"]}, False),
])
def test_a_ticket_trigger_wants_its_source_with_all_its_labels(config: dict[str, Any], wanted: bool) -> None:
    assert trigger_wants(config, BUG) is wanted


def test_ticket_trigger_params_are_the_specs() -> None:
    assert trigger_params(BUG) == {
        "ticketSource": "linear", "ticketExternalId": "ENG-7", "ticketTitle": "Crash", "ticketBody": "",
        "ticketLabels": ["Bug", "optio"], "ticketUrl": "https://linear.app/acme/issue/ENG-7"}
    github = Ticket(source="github", key="12", title="t", body="b", url=None)
    assert trigger_params(github)["ticketExternalId"] == "12"


def test_a_disabled_provider_says_why() -> None:
    assert disabled_because("401 from Linear") == "disabled after 5 failed syncs in a row: 401 from Linear"
    assert len(disabled_because("x" * 2000)) == 1000


OLD_BUGS = TicketTrigger("b", "2026-01-01T00:00:00Z", {"source": "github", "labels": ["Bug"]})
NEW_BUGS = TicketTrigger("a", "2026-02-01T00:00:00Z", {"source": "github", "labels": ["bug", "optio"]})
TWIN = TicketTrigger("a", "2026-01-01T00:00:00Z", {"source": "github"})
LINEAR_ALL = TicketTrigger("c", "2025-01-01T00:00:00Z", {"source": "linear"})
LATER = TicketTrigger("d", "2026-01-01T00:00:00Z", {"source": "github", "labels": ["later"]})


@pytest.mark.parametrize("candidates,handler", [
    ([], None),  # no trigger: the provider's plain task
    ([LINEAR_ALL, LATER], None),  # other source, or a label the ticket lacks
    ([NEW_BUGS], "a"),
    ([NEW_BUGS, OLD_BUGS, LINEAR_ALL], "b"),  # several want it: the oldest alone
    ([OLD_BUGS, TWIN], "a"),  # created at the same moment: the lowest id
])
def test_one_trigger_or_none_handles_a_new_ticket(candidates: list[TicketTrigger], handler: str | None) -> None:
    chosen = handling_trigger(candidates, ISSUE)
    assert (chosen.id if chosen else None) == handler


def test_jira_jql_and_issues() -> None:
    assert jira_jql({"projectKey": "ENG"}) == 'project = "ENG" AND statusCategory != Done ORDER BY created ASC'
    assert jira_jql({"projectKey": "ENG", "label": 'a"b'}) == (
        'project = "ENG" AND statusCategory != Done AND labels = "a\\"b" ORDER BY created ASC')
    assert jira_jql({"projectKey": "ENG", "jql": "filter = 10001"}) == "filter = 10001"
    doc = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Steps: "}, {"type": "text", "text": "click"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "then save"}]}]}
    assert adf_text(doc) == "Steps: click\nthen save" and adf_text(None) == "" and adf_text("plain") == "plain"
    ticket = jira_ticket("https://acme.atlassian.net/", {"key": "ENG-7", "fields": {
        "summary": "Crash", "description": doc, "labels": ["optio"], "assignee": {"displayName": "Ann"}}})
    assert ticket == Ticket(source="jira", key="ENG-7", identifier="ENG-7", title="Crash",
                            body="Steps: click\nthen save", url="https://acme.atlassian.net/browse/ENG-7",
                            labels=("optio",), assignee="Ann")


def test_notion_pages_and_filters() -> None:
    page = {"id": "p1", "url": "https://www.notion.so/p1", "properties": {
        "Task": {"type": "title", "title": [{"plain_text": "Fix "}, {"plain_text": "login"}]},
        "Tags": {"type": "multi_select", "multi_select": [{"name": "bug"}]}}}
    assert notion_ticket(page, "Tags") == Ticket(source="notion", key="p1", title="Fix login", body=None,
                                                 url="https://www.notion.so/p1", labels=("bug",))
    assert notion_ticket(page, None).labels == ()
    config = {"statusProperty": "Status", "todoState": "Not started", "labelsProperty": "Tags", "label": "optio"}
    assert notion_filter(config, "status") == {"and": [
        {"property": "Status", "status": {"equals": "Not started"}},
        {"property": "Tags", "multi_select": {"contains": "optio"}}]}
    assert notion_filter({"statusProperty": "Status", "todoState": "Todo"}, "select") == {
        "property": "Status", "select": {"equals": "Todo"}}
    assert notion_filter({}, None) is None


@pytest.mark.parametrize("old,new,event", [
    ("provisioning", "running", None), ("running", "pr_opened", "pr_opened"), ("pr_opened", "pr_opened", None),
    ("pr_opened", "completed", "completed"), ("running", "completed", "completed"), ("running", "failed", None),
])
def test_which_state_changes_are_written_back(old: str, new: str, event: str | None) -> None:
    assert writeback_event(old, new) == event


def test_the_ticket_of_a_task_and_what_it_is_told() -> None:
    assert ticket_ref({"ticketProviderId": "p", "ticketId": "ENG-1"}) == ("p", "ENG-1")
    assert ticket_ref({"trigger": {"type": "ticket", "ticketProviderId": "p", "ticketId": "x"}}) == ("p", "x")
    assert ticket_ref({"trigger": {"type": "schedule"}}) is None and ticket_ref(None) is None
    assert writeback_message("started", "t1", "http://o/tasks/t1", None) == (
        "Optio is working on this ticket: task t1 (http://o/tasks/t1).")
    assert writeback_message("pr_opened", "t1", "http://o/tasks/t1", "https://gh/pull/3").endswith("https://gh/pull/3")
    assert writeback_message("completed", "t1", "u", "https://gh/pull/3") == (
        "Optio completed this ticket's task t1; pull request https://gh/pull/3.")
