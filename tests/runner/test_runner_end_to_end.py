"""The runner as a real subprocess: real git, a real HTTP collector, the stand-in `claude` CLI."""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import alive
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
FAKE_CLAUDE = ROOT / "tests" / "fakes" / "claude"
TASK_ID = "tsk_01J9Z8Y7X6W5V4"
TOKEN = "run-token-123"
BRANCH = "optio/add-greeting-tsk01j9z"
# A deadline for one attempt on a loaded 2-core machine, not a bound on how fast it runs.
RUN_TIMEOUT_S = 60


@dataclass
class Post:
    path: str
    auth: str | None
    body: dict[str, Any]
    status: int


@dataclass
class Collector:
    """Stands in for the API's internal events endpoint and records every POST; keeps the saved
    sessions as the API does on AWS: it hands out links to a store of its own (S3 there)."""

    # Decides the answer to a body: a status to send instead of 200, or None.
    answer: Callable[[dict[str, Any]], int | None] = lambda body: None
    posts: list[Post] = field(default_factory=list)
    # Archives by session id, and each request for a link: (path, Authorization).
    sessions: dict[str, bytes] = field(default_factory=dict)
    session_asks: list[tuple[str, str | None]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    url: str = ""

    def record(self, path: str, auth: str | None, body: dict[str, Any]) -> int:
        with self.lock:
            status = self.answer(body) or 200
            self.posts.append(Post(path, auth, body, status))
            return status

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [post.body for post in self.posts if post.status == 200]

    def kinds(self) -> list[str]:
        return [body["kind"] for body in self.accepted()]

    def log_lines(self) -> list[dict[str, str]]:
        return [line for body in self.accepted() if body["kind"] == "logs" for line in body["lines"]]

    def results(self) -> list[dict[str, Any]]:
        return [body for body in self.accepted() if body["kind"] == "result"]

    def result(self) -> dict[str, Any]:
        [result] = self.results()
        return result

    def saw_log(self, text: str) -> bool:
        with self.lock:
            return any(
                text in line["content"]
                for post in self.posts
                if post.body.get("kind") == "logs"
                for line in post.body["lines"]
            )


SESSION_ASK = re.compile(rf"/api/internal/(?:tasks|workflow-runs)/{TASK_ID}/sessions/([^/]+)/(upload|download)")


def _handler(collector: Collector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ask = SESSION_ASK.fullmatch(self.path)
            if ask is not None:
                self._session_link(ask.group(1), ask.group(2))
                return
            status = collector.record(self.path, self.headers.get("Authorization"), json.loads(raw))
            self._reply(status, b'{"ok": true}' if status == 200 else b'{"error": "no"}')

        def _session_link(self, session_id: str, action: str) -> None:
            with collector.lock:
                collector.session_asks.append((self.path, self.headers.get("Authorization")))
                known = session_id in collector.sessions
            if action == "download" and not known:
                self._reply(404, b'{"error": "no saved session"}')
                return
            link = {"url": f"{collector.url}/store/{session_id}", "headers": {}}
            self._reply(200, json.dumps(link).encode())

        def do_PUT(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with collector.lock:
                collector.sessions[self.path.removeprefix("/store/")] = raw
            self._reply(200, b"")

        def do_GET(self) -> None:
            with collector.lock:
                data = collector.sessions.get(self.path.removeprefix("/store/"))
            if data is None:
                self._reply(404, b"")
            else:
                self._reply(200, data, "application/octet-stream")

        def _reply(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(collector))
    collector.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield collector
    server.shutdown()
    server.server_close()


def git(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository with one commit on main, like a freshly created project."""
    bare = tmp_path / "origin.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", bare)
    seed = tmp_path / "seed"
    git("init", "--quiet", "--initial-branch=main", seed)
    (seed / "README.md").write_text("# demo\n")
    git("add", ".", cwd=seed)
    git("commit", "--quiet", "-m", "initial commit", cwd=seed)
    git("push", "--quiet", str(bare), "main", cwd=seed)
    return bare


def remote_sha(bare: Path, branch: str) -> str | None:
    done = subprocess.run(
        ["git", "--git-dir", str(bare), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


def remote_file(bare: Path, branch: str, path: str) -> str:
    return git("--git-dir", bare, "show", f"{branch}:{path}")


@dataclass
class Harness:
    tmp_path: Path
    collector: Collector
    origin: Path
    agent_log: Path

    def env(self, prompt: str, **overrides: str) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if not name.startswith("OPTIO_")}
        env.update(
            PYTHONPATH=str(ROOT / "runner-image"),
            OPTIO_TASK_ID=TASK_ID,
            OPTIO_ATTEMPT="1",
            OPTIO_API_URL=self.collector.url,
            OPTIO_RUN_TOKEN=TOKEN,
            OPTIO_REPO_URL=str(self.origin),
            OPTIO_REPO_BRANCH="main",
            OPTIO_BRANCH_NAME=BRANCH,
            OPTIO_TASK_TITLE="Add a greeting",
            OPTIO_AGENT_TYPE="claude-code",
            OPTIO_PROMPT=prompt,
            OPTIO_AGENT_BIN_CLAUDE_CODE=str(FAKE_CLAUDE),
            OPTIO_HEARTBEAT_INTERVAL_MS="100",
            OPTIO_LOG_FLUSH_MS="50",
            FAKE_AGENT_LOG=str(self.agent_log),
        )
        env.update(overrides)
        return env

    def workspace(self, name: str) -> Path:
        path = self.tmp_path / name
        path.mkdir(exist_ok=True)
        return path

    def start(self, prompt: str, workspace: str = "ws", **overrides: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "optio_runner"],
            cwd=self.workspace(workspace),
            env=self.env(prompt, **overrides),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, prompt: str, workspace: str = "ws", **overrides: str) -> subprocess.CompletedProcess[str]:
        proc = self.start(prompt, workspace, **overrides)
        out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def launches(self) -> list[dict[str, Any]]:
        if not self.agent_log.exists():
            return []
        return [json.loads(line) for line in self.agent_log.read_text().splitlines()]


@pytest.fixture
def harness(tmp_path: Path, collector: Collector, origin: Path) -> Harness:
    return Harness(tmp_path, collector, origin, tmp_path / "agent-launches.jsonl")


wait_until = functools.partial(wait_for, timeout_s=10.0, interval_s=0.02)


def assert_protocol_shape(collector: Collector) -> None:
    for post in collector.posts:
        assert post.path == f"/api/internal/tasks/{TASK_ID}/events"
        assert post.auth == f"Bearer {TOKEN}"
        assert post.body["attempt"] == 1
    kinds = collector.kinds()
    assert kinds[0] == "started"
    assert kinds[-1] == "result" and kinds.count("result") == 1


def test_success_reports_logs_cost_and_pushes_the_branch(harness: Harness) -> None:
    done = harness.run("Add a greeting to the README")

    assert done.returncode == 0, done.stderr
    collector = harness.collector
    assert_protocol_shape(collector)
    result = collector.result()
    sha = remote_sha(harness.origin, BRANCH)
    assert result == {
        "attempt": 1,
        "kind": "result",
        "result": "success",
        "changed": True,
        "pushed": True,
        "branchName": BRANCH,
        "commitSha": sha,
        "prUrl": None,
        "prNumber": None,
        "costUsd": 0.0123,
        "inputTokens": 1200,
        "outputTokens": 340,
        "model": "claude-sonnet-4-5",
        "sessionId": result["sessionId"],
        "summary": "Done: the change is in place.",
        "error": None,
        "errorKind": None,
    }
    assert len(result["sessionId"]) == 36
    assert remote_file(harness.origin, BRANCH, "OPTIO_FAKE.md") == "Add a greeting to the README"
    assert git("--git-dir", harness.origin, "log", "-1", "--format=%s|%an <%ae>", BRANCH) == (
        "optio: Add a greeting|Optio <optio@localhost>"
    )

    lines = collector.log_lines()
    assert all(line["at"].endswith("Z") for line in lines)
    expected_in_order = [
        ("system", "checking out " + BRANCH),
        ("system", "session " + result["sessionId"]),
        ("thinking", "The task is clear"),
        ("text", "I'll make the requested change."),
        ("tool_use", "Write: "),
        ("tool_result", "File created successfully"),
        ("text", "Done: the change is in place."),
        ("system", "result: success"),
        ("system", "pushed " + BRANCH),
    ]
    positions = [
        next(i for i, line in enumerate(lines) if line["type"] == kind and line["content"].startswith(text))
        for kind, text in expected_in_order
    ]
    assert positions == sorted(positions)

    [launch] = harness.launches()
    assert launch["argv"] == [
        "-p",
        "Add a greeting to the README",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-mode",
        "bypassPermissions",
        "--max-turns",
        "250",
    ]
    assert launch["cwd"] == str(harness.tmp_path / "ws" / "repo")


def test_retry_continues_the_pushed_branch(harness: Harness) -> None:
    assert harness.run("First pass", "ws1").returncode == 0
    first = remote_sha(harness.origin, BRANCH)

    # A new attempt in a fresh pod: clones, finds the task branch, builds on it.
    assert harness.run("Second pass", "ws2", OPTIO_ATTEMPT="2").returncode == 0
    second = remote_sha(harness.origin, BRANCH)
    assert git("--git-dir", harness.origin, "rev-parse", f"{second}^") == first
    assert remote_file(harness.origin, BRANCH, "OPTIO_FAKE.md") == "First pass\nSecond pass"

    # A reused workspace whose clone is behind the remote branch: fetches and catches up.
    assert harness.run("Third pass", "ws1", OPTIO_ATTEMPT="3").returncode == 0
    third = remote_sha(harness.origin, BRANCH)
    assert git("--git-dir", harness.origin, "rev-parse", f"{third}^") == second
    assert remote_file(harness.origin, BRANCH, "OPTIO_FAKE.md") == "First pass\nSecond pass\nThird pass"
    results = harness.collector.results()
    assert [r["attempt"] for r in results] == [1, 2, 3]
    assert all(r["result"] == "success" and r["changed"] and r["pushed"] for r in results)


def test_a_redo_starts_the_branch_again_from_the_base(harness: Harness) -> None:
    assert harness.run("First pass", "ws1").returncode == 0
    base = remote_sha(harness.origin, "main")

    assert harness.run("Fresh start", "ws1", OPTIO_ATTEMPT="2", OPTIO_RESET_BRANCH="1").returncode == 0
    redone = remote_sha(harness.origin, BRANCH)
    assert git("--git-dir", harness.origin, "rev-parse", f"{redone}^") == base
    assert remote_file(harness.origin, BRANCH, "OPTIO_FAKE.md") == "Fresh start"
    assert harness.collector.results()[-1]["pushed"] is True


def test_retry_without_new_changes_still_counts_earlier_commits(harness: Harness) -> None:
    assert harness.run("First pass").returncode == 0
    first = remote_sha(harness.origin, BRANCH)

    assert harness.run("[fake:noop] look again", "ws2", OPTIO_ATTEMPT="2").returncode == 0

    result = harness.collector.results()[-1]
    assert (result["result"], result["changed"], result["pushed"]) == ("success", True, True)
    assert result["commitSha"] == first == remote_sha(harness.origin, BRANCH)


def test_noop_changes_nothing(harness: Harness) -> None:
    assert harness.run("[fake:noop] Check the README").returncode == 0

    result = harness.collector.result()
    assert (result["result"], result["changed"], result["pushed"]) == ("success", False, False)
    assert result["commitSha"] is None
    assert remote_sha(harness.origin, BRANCH) is None


def test_agent_that_commits_itself(harness: Harness) -> None:
    assert harness.run("[fake:commit] [fake:file=docs/notes.md] Write notes").returncode == 0

    result = harness.collector.result()
    assert (result["changed"], result["pushed"]) == (True, True)
    assert (
        remote_file(harness.origin, BRANCH, "docs/notes.md")
        == "[fake:commit] [fake:file=docs/notes.md] Write notes"
    )
    assert git("--git-dir", harness.origin, "log", "-1", "--format=%s", BRANCH).startswith("fake agent:")


def test_agent_failure(harness: Harness) -> None:
    assert harness.run("[fake:fail] Break things", OPTIO_TASK_TITLE="").returncode == 0

    result = harness.collector.result()
    assert result["result"] == "failure"
    assert result["errorKind"] == "agent_error"
    assert result["error"] == "simulated failure (agent exited with code 1)"
    assert (result["changed"], result["pushed"], result["costUsd"]) == (False, False, 0.0123)
    assert any(line["type"] == "error" for line in harness.collector.log_lines())


def test_fail_once_then_succeed(harness: Harness, tmp_path: Path) -> None:
    prompt = f"[fake:fail-once={tmp_path / 'failed-once'}] Flaky work"
    assert harness.run(prompt, "ws1").returncode == 0
    assert harness.run(prompt, "ws2", OPTIO_ATTEMPT="2").returncode == 0

    assert [r["result"] for r in harness.collector.results()] == ["failure", "success"]


@pytest.mark.parametrize("directive", ["[fake:auth]", "[fake:auth0]"])
def test_auth_failure(harness: Harness, directive: str) -> None:
    assert harness.run(f"{directive} Do work").returncode == 0

    result = harness.collector.result()
    assert (result["result"], result["errorKind"]) == ("failure", "auth")
    assert "could not authenticate" in result["error"] and "ANTHROPIC_API_KEY" in result["error"]


def test_resume_and_model_are_passed_to_the_agent(harness: Harness) -> None:
    harness.collector.sessions["sess-42"] = session_archive(harness.tmp_path, "sess-42")
    done = harness.run(
        "Continue", OPTIO_RESUME_SESSION_ID="sess-42", OPTIO_MODEL="claude-opus-4-1", OPTIO_MAX_TURNS="7"
    )

    assert done.returncode == 0, done.stderr
    [launch] = harness.launches()
    assert launch["argv"][-6:] == ["--max-turns", "7", "--model", "claude-opus-4-1", "--resume", "sess-42"]
    result = harness.collector.result()
    assert (result["sessionId"], result["model"]) == ("sess-42", "claude-opus-4-1")


def test_custom_agent(harness: Harness) -> None:
    command = (
        'echo "working on: $OPTIO_PROMPT"; echo "$OPTIO_PROMPT" > custom.txt; test -z "$OPTIO_RUN_TOKEN"'
    )
    done = harness.run("Say hi", OPTIO_AGENT_TYPE="custom", OPTIO_CUSTOM_COMMAND=command)

    assert done.returncode == 0, done.stderr
    result = harness.collector.result()
    assert (result["result"], result["changed"], result["pushed"]) == ("success", True, True)
    assert result["costUsd"] is None and result["model"] is None
    assert {"type": "text", "content": "working on: Say hi"} in [
        {"type": line["type"], "content": line["content"]} for line in harness.collector.log_lines()
    ]
    assert remote_file(harness.origin, BRANCH, "custom.txt") == "Say hi"


def test_custom_agent_failure_keeps_stderr(harness: Harness) -> None:
    command = "echo partial; echo 'disk full' >&2; exit 3"
    assert harness.run("x", OPTIO_AGENT_TYPE="custom", OPTIO_CUSTOM_COMMAND=command).returncode == 0

    result = harness.collector.result()
    assert (result["result"], result["error"]) == ("failure", "agent exited with code 3: disk full")
    assert {"type": "error", "content": "disk full"} in [
        {"type": line["type"], "content": line["content"]} for line in harness.collector.log_lines()
    ]


def test_missing_agent_binary(harness: Harness, tmp_path: Path) -> None:
    assert harness.run("x", OPTIO_AGENT_BIN_CLAUDE_CODE=str(tmp_path / "no-such-claude")).returncode == 0

    result = harness.collector.result()
    assert (result["result"], result["errorKind"]) == ("failure", "agent_error")
    assert result["error"].startswith("could not start the agent")


def test_unsupported_agent_type(harness: Harness) -> None:
    assert harness.run("x", OPTIO_AGENT_TYPE="gemini-pro-max").returncode == 0

    assert harness.collector.kinds()[0] == "started"
    result = harness.collector.result()
    assert (result["result"], result["error"]) == ("failure", "unsupported agent type gemini-pro-max")


def test_setup_commands(harness: Harness) -> None:
    setup = json.dumps(["echo preparing deps", "echo 'warn' >&2"])
    assert harness.run("With setup", OPTIO_SETUP_COMMANDS=setup).returncode == 0

    assert harness.collector.result()["result"] == "success"
    contents = [line["content"] for line in harness.collector.log_lines()]
    assert contents.index("$ echo preparing deps") < contents.index("preparing deps") < contents.index("warn")
    assert contents.index("warn") < next(i for i, c in enumerate(contents) if c.startswith("starting agent"))


def test_failing_setup_command_skips_the_agent(harness: Harness) -> None:
    setup = json.dumps(["echo ok", "exit 7"])
    assert harness.run("With setup", OPTIO_SETUP_COMMANDS=setup).returncode == 0

    result = harness.collector.result()
    assert (result["result"], result["errorKind"]) == ("failure", "setup")
    assert result["error"] == "setup command 'exit 7' failed with exit code 7"
    assert harness.launches() == []


def test_unreachable_repository_is_a_git_failure(harness: Harness, tmp_path: Path) -> None:
    assert harness.run("x", OPTIO_REPO_URL=str(tmp_path / "nowhere.git")).returncode == 0

    result = harness.collector.result()
    assert (result["result"], result["errorKind"]) == ("failure", "git")
    assert "cloning" in result["error"]


def test_rejected_push_is_reported(harness: Harness, tmp_path: Path) -> None:
    # The remote refuses the push, as a protected branch would.
    hook = harness.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'branch is protected' >&2\nexit 1\n")
    hook.chmod(0o755)

    assert harness.run("Push me").returncode == 0

    result = harness.collector.result()
    assert (result["result"], result["errorKind"], result["changed"], result["pushed"]) == (
        "failure",
        "git",
        True,
        False,
    )
    assert "branch is protected" in result["error"]
    assert result["costUsd"] == 0.0123


@pytest.mark.parametrize("kind", ["heartbeat", "logs"])
def test_409_stops_the_agent_and_exits_quietly(harness: Harness, kind: str) -> None:
    collector = harness.collector
    # Answer 409 only once the agent is surely running, to test that it gets killed.
    marker = "I'll make the requested change."
    collector.answer = lambda body: (
        409 if body["kind"] == kind and (marker in json.dumps(body) or collector.saw_log(marker)) else None
    )
    # The agent would work for ten minutes: a runner done within the deadline stopped it.
    proc = harness.start("[fake:sleep=600] Long job")
    proc.communicate(timeout=RUN_TIMEOUT_S)

    assert proc.returncode == 0
    assert collector.results() == []
    assert 409 in [post.status for post in collector.posts]
    [launch] = harness.launches()
    wait_until(lambda: not alive(launch["pid"]))


def test_sigterm_kills_the_agent(harness: Harness) -> None:
    proc = harness.start("[fake:sleep=30] Long job")
    wait_until(lambda: harness.collector.saw_log("Still working (1 s)"))

    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)

    assert proc.returncode == 143
    assert harness.collector.results() == []
    [launch] = harness.launches()
    wait_until(lambda: not alive(launch["pid"]))


def test_heartbeats_carry_the_running_cost_field(harness: Harness) -> None:
    assert harness.run("[fake:sleep=0.5] [fake:cost=0.5] Short job").returncode == 0

    heartbeats = [body for body in harness.collector.accepted() if body["kind"] == "heartbeat"]
    assert heartbeats and all("costUsd" in body for body in heartbeats)
    assert harness.collector.result()["costUsd"] == 0.5


def test_budget_stops_the_agent_once_its_running_cost_passes_it(harness: Harness, tmp_path: Path) -> None:
    # OpenCode reports cost per step; this stand-in replays a recorded run, then would hang.
    sample = ROOT / "tests" / "runner" / "samples" / "opencode_success.jsonl"
    pid_file = tmp_path / "agent.pid"
    agent = tmp_path / "opencode"
    # It would then wait ten minutes: a runner done within the deadline stopped it.
    agent.write_text(f"#!/bin/sh\necho $$ > {pid_file}\ncat {sample}\nexec sleep 600\n")
    agent.chmod(0o755)

    done = harness.run("x", OPTIO_AGENT_TYPE="opencode", OPTIO_AGENT_BIN_OPENCODE=str(agent),
                       OPTIO_BUDGET_USD="0.02")

    assert done.returncode == 0, done.stderr
    result = harness.collector.result()
    assert (result["result"], result["errorKind"]) == ("failure", "budget")
    assert result["error"] == "budget exceeded: the agent's cost $0.0253 passed the budget $0.02"
    assert result["costUsd"] == pytest.approx(0.0253)
    assert harness.collector.saw_log("passed the budget $0.02; stopping it")
    wait_until(lambda: not alive(int(pid_file.read_text())))


def test_budget_must_be_a_positive_number(harness: Harness) -> None:
    done = harness.run("x", OPTIO_BUDGET_USD="-1")

    assert done.returncode == 2
    assert "OPTIO_BUDGET_USD must be more than 0" in done.stderr


def test_result_is_retried_on_server_errors(harness: Harness) -> None:
    failures = iter([503, 502])
    harness.collector.answer = lambda body: next(failures, None) if body["kind"] == "result" else None

    assert harness.run("Retry me").returncode == 0

    statuses = [post.status for post in harness.collector.posts if post.body["kind"] == "result"]
    assert statuses == [503, 502, 200]


def test_rejected_token_exits_1(harness: Harness) -> None:
    harness.collector.answer = lambda body: 401

    done = harness.run("x")

    assert done.returncode == 1
    assert "rejected the run token" in done.stderr
    assert harness.launches() == []


def test_missing_environment_exits_2(harness: Harness) -> None:
    env = harness.env("x")
    del env["OPTIO_TASK_ID"], env["OPTIO_RUN_TOKEN"]

    done = subprocess.run(
        [sys.executable, "-m", "optio_runner"],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )

    assert done.returncode == 2
    assert "missing required environment variables: OPTIO_TASK_ID, OPTIO_RUN_TOKEN" in done.stderr
    assert harness.collector.posts == []


def test_bad_number_exits_2(harness: Harness) -> None:
    done = harness.run("x", OPTIO_ATTEMPT="first")

    assert done.returncode == 2
    assert "OPTIO_ATTEMPT must be an integer" in done.stderr


# ---- the agent's session, saved after every attempt and restored before a resume -------------


def session_archive(tmp_path: Path, session_id: str) -> bytes:
    """What the runner saves for a Claude Code session of one prompt."""
    from optio_runner.sessions import pack

    home = tmp_path / f"home-{session_id}"
    transcript = home / ".claude" / "projects" / "-elsewhere-repo" / f"{session_id}.jsonl"
    transcript.parent.mkdir(parents=True)
    transcript.write_text(json.dumps({"type": "user", "sessionId": session_id, "prompt": "earlier"}) + "\n")
    out = io.BytesIO()
    pack(home, (".claude/projects",), {}, out)
    return out.getvalue()


def archive_files(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def transcript_in(archive: bytes, session_id: str) -> list[dict[str, Any]]:
    [text] = [data for name, data in archive_files(archive).items()
              if name.startswith(".claude/projects/") and name.endswith(f"/{session_id}.jsonl")]
    return [json.loads(line) for line in text.decode().splitlines()]


def test_the_session_outlives_the_workspace_and_a_resume_continues_it(harness: Harness) -> None:
    collector = harness.collector
    first = harness.run("Start the work", workspace="first")
    assert first.returncode == 0, first.stderr
    session_id = collector.result()["sessionId"]
    assert [line["prompt"] for line in transcript_in(collector.sessions[session_id], session_id)] == [
        "Start the work"]
    assert "optio-session.json" in archive_files(collector.sessions[session_id])
    # What the local launcher does once an attempt ends: nothing of its HOME is left.
    shutil.rmtree(harness.tmp_path / "first")

    second = harness.run("Carry on", workspace="second", OPTIO_RESUME_SESSION_ID=session_id)

    assert second.returncode == 0, second.stderr
    [_, resumed] = collector.results()
    assert (resumed["result"], resumed["sessionId"]) == ("success", session_id)
    assert collector.saw_log(f"restored session {session_id} (1 file)")
    assert collector.saw_log("Continuing the conversation: 1 earlier prompts.")
    assert [line["prompt"] for line in transcript_in(collector.sessions[session_id], session_id)] == [
        "Start the work", "Carry on"]
    base = f"/api/internal/tasks/{TASK_ID}/sessions/{session_id}"
    assert collector.session_asks == [(f"{base}/upload", f"Bearer {TOKEN}"),
                                      (f"{base}/download", f"Bearer {TOKEN}"),
                                      (f"{base}/upload", f"Bearer {TOKEN}")]


def test_a_resume_with_no_saved_session_fails_saying_so(harness: Harness) -> None:
    done = harness.run("Carry on", OPTIO_RESUME_SESSION_ID="gone-1")

    assert done.returncode == 0, done.stderr
    result = harness.collector.result()
    assert result["result"] == "failure"
    assert "No conversation found with session ID: gone-1" in result["error"]
    assert harness.collector.saw_log("no saved session gone-1 to restore; the agent starts without it")
    assert harness.collector.sessions == {}  # nothing of a session to save


def test_a_failed_attempt_saves_its_session_too(harness: Harness) -> None:
    done = harness.run("[fake:fail] Try")

    assert done.returncode == 0, done.stderr
    result = harness.collector.result()
    assert result["result"] == "failure"
    assert transcript_in(harness.collector.sessions[result["sessionId"]], result["sessionId"])


def test_a_standalone_run_saves_its_session_on_its_own_channel(harness: Harness) -> None:
    done = harness.run("Summarise the news", OPTIO_RUN_KIND="workflow-run", OPTIO_REPO_URL="",
                       OPTIO_BRANCH_NAME="")

    assert done.returncode == 0, done.stderr
    session_id = harness.collector.result()["sessionId"]
    assert transcript_in(harness.collector.sessions[session_id], session_id)
    assert harness.collector.session_asks == [
        (f"/api/internal/workflow-runs/{TASK_ID}/sessions/{session_id}/upload", f"Bearer {TOKEN}")]
