"""The Jira Cloud, Notion and Linear clients against their stand-ins over real HTTP: paged
searches with the providers' filters, comments, state changes, throttling waited out, and
refusals named."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.tickets import linear
from chalicelib.tickets.jira import Jira
from chalicelib.tickets.notion import Notion
from chalicelib.tickets.rest import RateLimited, TicketApiError
from tests.fakes.jira_api import FakeJira
from tests.fakes.linear_api import FakeLinear
from tests.fakes.notion_api import FakeNotion


@pytest.fixture()
def jira() -> Iterator[FakeJira]:
    server = FakeJira().start()
    yield server
    server.stop()


@pytest.fixture()
def notion() -> Iterator[FakeNotion]:
    server = FakeNotion().start()
    yield server
    server.stop()


@pytest.fixture()
def linear_api() -> Iterator[FakeLinear]:
    server = FakeLinear().start()
    yield server
    server.stop()


def test_jira_search_pages_filters_comments_and_transitions(jira: FakeJira) -> None:
    for n in range(5):
        jira.add_issue("ENG", f"Bug {n}", f"line one\nline {n}", labels=("optio",))
    jira.add_issue("ENG", "Unlabeled")
    jira.add_issue("ENG", "Finished", labels=("optio",), status="Done")
    jira.add_issue("OPS", "Other project", labels=("optio",))
    client = Jira(jira.url, jira.email, jira.api_token)
    tickets = client.fetch({"projectKey": "ENG", "label": "optio"})
    assert [t.identifier for t in tickets] == [f"ENG-{n + 1}" for n in range(5)]
    first = tickets[0]
    assert (first.source, first.key, first.title, first.body, first.labels) == (
        "jira", "ENG-1", "Bug 0", "line one\nline 0", ("optio",))
    assert first.url == f"{jira.url}/browse/ENG-1"
    assert sum(1 for m, p in jira.requests if p == "/rest/api/3/search/jql") == 3  # pages of 2
    assert [t.key for t in client.fetch({"jql": 'project = "OPS"'})] == ["OPS-1"]

    client.comment("ENG-1", "Optio is working on this ticket: task t1 (http://optio/tasks/t1).")
    assert jira.comment_texts("ENG-1") == ["Optio is working on this ticket: task t1 (http://optio/tasks/t1)."]
    assert client.move_to("ENG-1", "in progress") and jira.status_of("ENG-1") == "In Progress"
    assert client.move_to("ENG-1", None) and jira.status_of("ENG-1") == "Done"  # the done category
    assert not client.move_to("ENG-2", "Shipped")  # no such transition: nothing moves
    assert jira.status_of("ENG-2") == "To Do"


def test_jira_throttling_is_waited_out_and_refusals_are_named(jira: FakeJira) -> None:
    jira.add_issue("ENG", "One")
    client = Jira(jira.url, jira.email, jira.api_token)
    jira.throttle_once(retry_after=0)
    assert [t.key for t in client.fetch({"projectKey": "ENG"})] == ["ENG-1"]
    for _ in range(4):
        jira.throttle_once(retry_after=0)
    with pytest.raises(RateLimited):
        client.fetch({"projectKey": "ENG"})
    jira.throttle_once(retry_after=3600)  # longer than a request waits: the next sync tries again
    with pytest.raises(RateLimited, match="3600"):
        client.fetch({"projectKey": "ENG"})
    with pytest.raises(TicketApiError, match="401"):
        Jira(jira.url, jira.email, "wrong").fetch({"projectKey": "ENG"})
    with pytest.raises(TicketApiError, match="cannot parse"):
        client.fetch({"jql": "assignee = currentUser()"})


@pytest.mark.parametrize("status_type", ["status", "select"])
def test_notion_query_pages_filters_comments_and_sets_the_state(notion: FakeNotion, status_type: str) -> None:
    database = notion.add_database(status_type)
    pages = [notion.add_page(database, f"Page {n}", tags=("optio", "bug")) for n in range(3)]
    notion.add_page(database, "No tag")
    notion.add_page(database, "Finished", status="Done", tags=("optio",))
    client = Notion(notion.url, notion.token)
    config = {"databaseId": database, "statusProperty": "Status", "todoState": "Not started",
              "labelsProperty": "Tags", "label": "optio"}
    tickets = client.fetch(config)
    assert [t.title for t in tickets] == ["Page 0", "Page 1", "Page 2"]
    assert tickets[0].key == pages[0]["id"] and tickets[0].labels == ("optio", "bug")
    assert tickets[0].url == pages[0]["url"] and tickets[0].source == "notion"
    assert len(client.fetch({"databaseId": database})) == 5  # no filter: every page, two per page
    client.comment(pages[0]["id"], "Optio opened a pull request for this ticket: https://x/pull/1")
    assert notion.comment_texts(pages[0]["id"]) == ["Optio opened a pull request for this ticket: https://x/pull/1"]
    assert client.move_to(config, pages[0]["id"]) and notion.status_of(pages[0]["id"]) == "Done"
    assert client.move_to({**config, "doneState": "In progress"}, pages[1]["id"])
    assert notion.status_of(pages[1]["id"]) == "In progress"
    assert not client.move_to({"databaseId": database}, pages[2]["id"])
    notion.throttle_once(retry_after=0)
    assert len(client.fetch(config)) == 1  # two moved out of "Not started"
    with pytest.raises(TicketApiError, match="object_not_found"):
        client.fetch({"databaseId": "0" * 32})
    with pytest.raises(TicketApiError, match="unauthorized"):
        Notion(notion.url, "wrong").fetch(config)


def test_linear_comments_and_moves_an_issue_to_the_done_state(linear_api: FakeLinear) -> None:
    issue = linear_api.add_issue("ENG", "Crash")
    linear.comment(linear_api.url, linear_api.api_key, issue["id"], "Optio completed this ticket's task t1.")
    assert linear_api.comments[issue["id"]] == ["Optio completed this ticket's task t1."]
    assert linear.move_to(linear_api.url, linear_api.api_key, issue["id"], "ENG", None)
    assert linear_api.state_of(issue["id"]) == "Done"
    assert linear.move_to(linear_api.url, linear_api.api_key, issue["id"], "ENG", "in progress")
    assert linear_api.state_of(issue["id"]) == "In Progress"
    assert not linear.move_to(linear_api.url, linear_api.api_key, issue["id"], "ENG", "Shipped")
    with pytest.raises(linear.LinearError, match="Entity not found"):
        linear.comment(linear_api.url, linear_api.api_key, "no-such-issue", "x")
