import pytest

from chalicelib.core.naming import branch_name
from chalicelib.core.repos import BadRepoUrl, normalise_repo_url
from chalicelib.core.runner_env import Repository, RunnerInput, runner_environment
from chalicelib.core.schemas import TASK_CREATE
from chalicelib.core.tokens import run_token, run_token_attempt
from chalicelib.core.validation import FieldProblem, validate

ID = "0f8c2b8e-1111-4222-8333-944445555666"


def test_branch_name_is_slug_plus_id_prefix() -> None:
    assert branch_name("Add email validation to signup form!", ID) == (
        "optio/add-email-validation-to-signup-form-0f8c2b8e"
    )


def test_branch_slug_is_at_most_40_chars() -> None:
    name = branch_name("x" * 100, ID)
    assert name == "optio/" + "x" * 40 + "-0f8c2b8e"


@pytest.mark.parametrize("raw,expected", [
    ("https://github.com/Acme/WebApp.git", "https://github.com/acme/webapp"),
    ("https://github.com/acme/webapp/", "https://github.com/acme/webapp"),
    ("git@github.com:acme/webapp.git", "https://github.com/acme/webapp"),
    ("/tmp/x/../repo.git", "file:///tmp/repo.git"),
    ("file:///srv/repo", "file:///srv/repo"),
])
def test_repo_urls_normalise(raw: str, expected: str) -> None:
    assert normalise_repo_url(raw, allow_local=True) == expected


@pytest.mark.parametrize("raw", ["", "ftp://x/y/z", "https://github.com/acme", "not a url"])
def test_bad_repo_urls_are_refused(raw: str) -> None:
    with pytest.raises(BadRepoUrl):
        normalise_repo_url(raw, allow_local=True)


def test_local_paths_need_local_mode() -> None:
    with pytest.raises(BadRepoUrl):
        normalise_repo_url("/srv/repo", allow_local=False)


def test_run_tokens_name_their_attempt_and_resist_forgery() -> None:
    token = run_token("k", ID, 3)
    assert run_token_attempt("k", ID, token) == 3
    assert run_token_attempt("other-key", ID, token) is None
    assert run_token_attempt("k", "another-task", token) is None
    assert run_token_attempt("k", ID, token.replace("_3_", "_4_")) is None
    assert run_token_attempt("k", ID, "garbage") is None


def test_runner_environment_carries_spec_variables() -> None:
    env = runner_environment(
        RunnerInput(execution_id=ID, attempt=2, title="T", prompt="P", agent_type="claude-code",
                    heartbeat_interval_ms=30000, max_turns=250, setup_commands=["make setup"],
                    repository=Repository(url="file:///r", base_branch="main", branch_name="optio/t-0f8c2b8e")),
        "http://127.0.0.1:8000", "tok",
    )
    assert env["OPTIO_TASK_ID"] == ID and env["OPTIO_ATTEMPT"] == "2"
    assert env["OPTIO_SETUP_COMMANDS"] == '["make setup"]'
    assert "OPTIO_MODEL" not in env


def test_validation_names_every_failing_field() -> None:
    problems = validate(TASK_CREATE, {"title": "", "priority": 5000, "bogus": 1})
    assert FieldProblem("prompt", "is required") in problems
    assert FieldProblem("title", "must not be empty") in problems
    assert FieldProblem("priority", "must be at most 1000") in problems
    assert FieldProblem("bogus", "is not a known field") in problems
