"""The `optio` CLI end to end: the installed console script against local mode over HTTP, with
the stand-in agent (tests/fakes/claude) doing the work."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.fakes.github_api import FakeGitHub
from tests.support.gitrepo import branch_file, make_bare_repo
from tests.support.localmode import LocalMode
from tests.support.waiting import wait_for

from .conftest import OPTIO, Cli

pytestmark = pytest.mark.xdist_group("cli")


def create_task(cli: Cli, repo: Path, prompt: str, title: str = "CLI task") -> str:
    task_id = cli.ok("tasks", "create", "--title", title, "--prompt", prompt, "--repo", str(repo)).out.strip()
    assert len(task_id) == 36, task_id
    return task_id


def task_state(cli: Cli, task_id: str) -> str:
    return str(cli.ok("tasks", "show", task_id, "--json").json()["state"])


def test_a_task_created_followed_to_the_end_and_listed(cli: Cli, repo_path: Path) -> None:
    task_id = create_task(cli, repo_path, "Add a greeting [fake:file=GREETING.md] [fake:sleep=1]")

    followed = cli.ok("tasks", "logs", task_id, "--follow")

    # The agent's lines on stdout, in order, and the progress (state, elapsed, cost) on stderr.
    assert "Done: the change is in place." in followed.out
    assert followed.out.index("starting agent") < followed.out.index("Done: the change")
    last = followed.err.strip().splitlines()[-1]
    assert last.startswith("completed · 0:0") and last.endswith("· $0.0123"), followed.err
    assert branch_file(repo_path, f"optio/cli-task-{task_id[:8]}", "GREETING.md") is not None

    listed = cli.ok("tasks", "list", "--json").json()
    assert [t["state"] for t in listed if t["id"] == task_id] == ["completed"]
    shown = cli.ok("tasks", "show", task_id, "--json").json()
    assert shown["costUsd"] == 0.0123 and shown["id"] == task_id
    human = cli.ok("tasks", "show", task_id).out
    assert ["state:", "completed"] in [line.split() for line in human.splitlines()]
    # Logs again, as JSON lines: every line once, numbered from 1.
    lines = [json.loads(line) for line in cli.ok("tasks", "logs", task_id, "--json").out.splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    events = cli.ok("tasks", "events", task_id, "--json").json()
    assert events[-1]["to"] == "completed"


def test_a_slow_task_is_cancelled_and_retried(cli: Cli, repo_path: Path, local_mode: LocalMode) -> None:
    task_id = create_task(cli, repo_path, "Take your time [fake:sleep=120]", title="Slow")
    wait_for(lambda: task_state(cli, task_id) == "running", timeout_s=60, interval_s=0.2, what="running")

    assert cli.ok("tasks", "cancel", task_id).out.strip() == f"{task_id} cancelled"
    assert local_mode.api.task(task_id)["state"] == "cancelled"
    again = cli("tasks", "cancel", task_id)
    assert again.code == 3 and "cancelled" in again.err

    retried = cli.ok("tasks", "retry", task_id, "--json").json()
    assert retried["state"] == "queued"
    wait_for(lambda: task_state(cli, task_id) == "running", timeout_s=60, interval_s=0.2, what="running again")
    assert cli.ok("tasks", "cancel", task_id, "--json").json()["state"] == "cancelled"


def test_a_failed_task_followed_redone_and_restarted(cli: Cli, repo_path: Path) -> None:
    task_id = cli.ok("tasks", "create", "--title", "Doomed", "--repo", str(repo_path), "--max-retries", "0",
                     "--prompt", "Try [fake:fail]").out.strip()
    failed = cli.ok("tasks", "logs", task_id, "--follow")
    assert "[error] simulated failure" in failed.out
    last = failed.err.strip().splitlines()[-1]
    assert last.startswith("failed · ") and "simulated failure" in last and "retry" not in last

    redone = cli.ok("tasks", "redo", task_id, "--json").json()
    assert redone["state"] == "queued" and redone["costUsd"] is None and redone["errorMessage"] is None
    assert cli.ok("tasks", "logs", task_id, "--follow").err.strip().splitlines()[-1].startswith("failed · ")

    # A fresh session with a prompt of its own (no failure directive this time).
    cli.ok("tasks", "restart", task_id, "--prompt", "-", input="Try again, carefully")
    assert cli.ok("tasks", "logs", task_id, "--follow").err.strip().splitlines()[-1].startswith("completed · ")


def test_exit_codes_scripts_can_use(cli: Cli, repo_path: Path, local_mode: LocalMode) -> None:
    missing = cli("tasks", "show", "00000000-0000-0000-0000-000000000000")
    assert missing.code == 2 and "not found" in missing.err and not missing.out

    done = create_task(cli, repo_path, "Quick one", title="Quick")
    local_mode.api.wait_state(done, "completed", timeout_s=60)
    conflict = cli("tasks", "resume", done, "--prompt", "more")
    assert conflict.code == 3 and "completed" in conflict.err

    refused = cli("tasks", "list", OPTIO_TOKEN="optio_pat_not-a-real-token")
    assert refused.code == 4 and "invalid token" in refused.err
    assert "optio_pat_not-a-real-token" not in refused.out + refused.err

    assert cli("tasks", "show").code == 1  # a missing argument
    assert cli("tasks", "list", "--state", "sleeping").code == 1
    assert cli("triggers", "list", done).code == 1  # a repo task has no triggers: 405
    blueprint = cli.ok("blueprints", "create", "--name", "Exit codes", "--repo", str(repo_path),
                       "--prompt", "p").out.strip()
    bad_cron = cli("triggers", "create", blueprint, "--schedule", "@daily")
    assert bad_cron.code == 1 and "cronExpression" in bad_cron.err  # 400

    nobody = cli("tasks", "list", OPTIO_URL=f"http://127.0.0.1:{free_port()}", OPTIO_TOKEN="x")
    assert nobody.code == 5 and "cannot reach" in nobody.err


def test_a_secret_is_read_from_stdin_only(cli: Cli, repo_path: Path, tmp_path: Path) -> None:
    value = "sk-ant-cli-9f8e7d6c5b4a"
    setter = cli.popen("secrets", "set", "ANTHROPIC_API_KEY")
    # While it waits for stdin, its command line (what `ps` shows everyone) has no value to leak.
    def started() -> str | None:
        line = Path(f"/proc/{setter.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        return line if "secrets set ANTHROPIC_API_KEY" in line else None

    cmdline = wait_for(started, what="optio to have started")
    out, err = setter.communicate(value + "\n", timeout=60)
    assert setter.returncode == 0, err
    assert value not in out + err and value not in cmdline

    listed = cli.ok("secrets", "list", "--json")
    assert "ANTHROPIC_API_KEY" in [s["name"] for s in listed.json()] and value not in listed.out
    # The agent gets exactly what was typed, without the newline that ended it.
    dump = tmp_path / "env.json"
    task_id = create_task(cli, repo_path, f"[fake:env={dump}] [fake:noop] show it", title="Env")
    cli.ok("tasks", "logs", task_id, "--follow")
    assert json.loads(dump.read_text())["ANTHROPIC_API_KEY"] == value

    assert cli("secrets", "set", "EMPTY", input="").code == 1
    assert cli("secrets", "set", "VALUE", value).code == 1  # no value as an argument


def test_profiles_and_environment_overrides(signed_out: Cli, local_mode: LocalMode) -> None:
    cli = signed_out
    assert cli("tasks", "list").code == 4  # nobody signed in yet
    wrong = cli("login", "--url", local_mode.url, input="optio_pat_wrong\n")
    assert wrong.code == 4 and not cli.config.exists()

    cli.ok("login", "--profile", "local", "--url", local_mode.url, input=local_mode.token + "\n")
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.config.parent.stat().st_mode) == 0o700
    stored: dict[str, Any] = json.loads(cli.config.read_text())
    assert stored["current"] == "local"
    assert stored["profiles"]["local"] == {"url": local_mode.url, "auth": {"method": "token",
                                                                           "token": local_mode.token}}
    cli.ok("tasks", "list")

    # A second deployment; the current profile stays, --profile and OPTIO_PROFILE pick.
    elsewhere = f"http://127.0.0.1:{free_port()}"
    stored["profiles"]["staging"] = {"url": elsewhere, "auth": {"method": "token", "token": "optio_pat_s"}}
    cli.config.write_text(json.dumps(stored))
    profiles = cli.ok("profiles", "list", "--json")
    assert {(p["name"], p["current"]) for p in profiles.json()} == {("local", True), ("staging", False)}
    assert local_mode.token not in profiles.out and "optio_pat_s" not in profiles.out
    assert cli("--profile", "staging", "tasks", "list").code == 5  # nothing listens there
    assert cli("tasks", "list", OPTIO_PROFILE="staging").code == 5
    assert cli("--profile", "nope", "tasks", "list").code == 1

    # OPTIO_URL and OPTIO_TOKEN override the profile; a profile's token never goes to another URL.
    cli.ok("--profile", "staging", "tasks", "list", OPTIO_URL=local_mode.url, OPTIO_TOKEN=local_mode.token)
    assert cli("--profile", "staging", "tasks", "list", OPTIO_URL=local_mode.url).code == 4
    assert cli("tasks", "list", OPTIO_TOKEN="optio_pat_wrong").code == 4

    cli.ok("profiles", "use", "staging")
    assert cli("tasks", "list").code == 5
    cli.ok("logout", "--profile", "local")
    assert "local" not in json.loads(cli.config.read_text())["profiles"]

    # Nothing stored at all: the environment alone is enough, and OPTIO_URL is where login goes.
    cli.config.unlink()
    cli.ok("tasks", "list", OPTIO_URL=local_mode.url, OPTIO_TOKEN=local_mode.token)
    cli.ok("login", input=local_mode.token, OPTIO_URL=local_mode.url)
    assert json.loads(cli.config.read_text())["profiles"]["default"]["url"] == local_mode.url


def test_blueprints_triggers_runs_templates_and_repos(cli: Cli, tmp_path: Path, local_mode: LocalMode) -> None:
    repo_path = make_bare_repo(tmp_path)
    repo_id = cli.ok("repos", "add", str(repo_path)).out.strip()
    again = cli("repos", "add", str(repo_path))
    assert again.code == 3 and repo_id in again.err  # already registered: the id to use
    assert repo_id in [r["id"] for r in cli.ok("repos", "list", "--json").json()]
    assert cli.ok("repos", "show", repo_id, "--json").json()["id"] == repo_id

    schema = json.dumps({"type": "object", "properties": {"severity": {"enum": ["low", "high"]}}})
    blueprint = cli.ok("blueprints", "create", "--name", "Daily CVE patch", "--repo", repo_id,
                       "--title", "Patch {{severity}} advisories", "--prompt", "Patch them [fake:noop]",
                       "--params-schema", schema).out.strip()
    assert blueprint in [b["id"] for b in cli.ok("blueprints", "list", "--json").json()]
    trigger = cli.ok("triggers", "create", blueprint, "--schedule", "0 6 * * *", "--json").json()
    assert trigger["nextFireAt"].endswith("06:00:00.000Z") or "T06:00" in trigger["nextFireAt"]
    cli.ok("triggers", "pause", blueprint, trigger["id"])
    assert [t["enabled"] for t in cli.ok("triggers", "list", blueprint, "--json").json()] == [False]

    bad = cli("runs", "start", blueprint, "--param", "severity=medium")
    assert bad.code == 1 and "params.severity" in bad.err
    run_id = cli.ok("runs", "start", blueprint, "--param", "severity=high").out.strip()
    assert cli.ok("tasks", "show", run_id, "--json").json()["title"] == "Patch high advisories"
    assert [r["id"] for r in cli.ok("runs", "list", blueprint, "--json").json()] == [run_id]

    template = local_mode.api.ok("POST", "/api/templates", {
        "name": "Greeting for CLI", "prompt": "Say hello to {{who}} [fake:noop]", "title": "Hello {{who}}",
        "repoId": repo_id}, status=201)
    from_template = cli.ok("templates", "run", "Greeting for CLI", "--param", "who=the CLI", "--json").json()
    assert from_template["title"] == "Hello the CLI"
    assert from_template["metadata"]["templateId"] == template["id"]
    assert "Greeting for CLI" in cli.ok("templates", "list").out
    assert cli("templates", "run", "No such template").code == 2

    cli.ok("triggers", "delete", blueprint, trigger["id"])
    cli.ok("blueprints", "delete", blueprint)
    assert cli("blueprints", "show", blueprint).code == 2


def test_a_standalone_run_followed(cli: Cli, local_mode: LocalMode) -> None:
    standalone = local_mode.api.ok("POST", "/api/tasks", {
        "type": "standalone", "name": "CLI report", "agentRuntime": "claude-code",
        "promptTemplate": "Report on {{topic}} [fake:noop]"}, status=201)
    started = cli.ok("runs", "start", standalone["id"], "--param", "topic=tests", "--follow")
    run_id = started.err.splitlines()[0].removeprefix("following ")
    assert started.err.strip().splitlines()[-1].startswith("completed · ")
    run = cli.ok("runs", "show", run_id, "--json").json()
    assert run["state"] == "completed" and run["prompt"].startswith("Report on tests")
    assert "Done" in cli.ok("runs", "logs", run_id).out




def test_shell_completion(signed_out: Cli) -> None:
    cli = signed_out
    script = cli.ok("completion", "bash").out
    assert "_OPTIO_COMPLETE" in script
    # The script as bash runs it: complete a command, then a choice of an option.
    probe = (f'{script}\nCOMP_WORDS=(optio ta); COMP_CWORD=1; _optio_completion optio; echo "${{COMPREPLY[@]}}"\n'
             'COMPREPLY=(); COMP_WORDS=(optio tasks list --state pr_); COMP_CWORD=4; _optio_completion optio; '
             'echo "${COMPREPLY[@]}"\n')
    path = f"{OPTIO.parent}:{cli.env['PATH']}"
    completed = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env={**cli.env, "PATH": path},
                               timeout=60)
    assert completed.stdout.splitlines() == ["tasks", "pr_opened"], completed.stderr
    assert "compdef" in cli.ok("completion", "zsh").out
    assert "--command optio" in cli.ok("completion", "fish").out


def test_the_progress_line_is_redrawn_on_a_terminal(cli: Cli, repo_path: Path) -> None:
    """On a terminal the progress is one line rewritten in place (carriage return, clear to end of
    line) between the agent's lines, and the final state stays."""
    controller, terminal = os.openpty()
    follower = subprocess.Popen(
        [str(OPTIO), "tasks", "create", "--title", "On a terminal", "--repo", str(repo_path), "--follow",
         "--prompt", "Work a while [fake:sleep=3]"],
        stdout=subprocess.PIPE, stderr=terminal, text=True, env=cli.env)
    os.close(terminal)
    seen = b""
    while True:  # until the terminal's last writer is gone (EIO)
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    out, _ = follower.communicate(timeout=60)
    assert follower.returncode == 0
    assert "Still working (2 s)" in out and "following " not in out  # stdout: the logs only
    progress = seen.decode()
    assert "\r\x1b[Krunning · 0:0" in progress, progress  # redrawn while it runs
    assert progress.endswith(" · $0.0123\r\n") and "\r\x1b[Kcompleted · 0:0" in progress, progress


def test_issues_listed_and_assigned(cli: Cli, local_mode: LocalMode, github: FakeGitHub) -> None:
    refused = cli("issues", "list")
    assert refused.code == 3 and "GITHUB_TOKEN" in refused.err
    cli.ok("secrets", "set", "GITHUB_TOKEN", input=github.token)
    github.add_repo("acme/cli")
    repo_id = cli.ok("repos", "add", "https://github.com/acme/cli").out.strip()
    issue = github.add_issue("acme/cli", "Crash on start", "It crashes")

    listed = cli.ok("issues", "list", "--repo", repo_id, "--json").json()
    assert [(i["number"], i["task"]) for i in listed] == [(issue["number"], None)]
    task_id = cli.ok("issues", "assign", str(issue["number"]), "--repo", repo_id).out.strip()
    assert cli.ok("issues", "assign", str(issue["number"]), "--repo", repo_id).out.strip() == task_id
    assert "Crash on start" in cli.ok("issues", "list").out
    assert cli("issues", "assign", "999", "--repo", repo_id).code == 2
    cli.ok("secrets", "delete", "GITHUB_TOKEN")
    assert "GITHUB_TOKEN" not in [s["name"] for s in cli.ok("secrets", "list", "--json").json()]


def test_the_cli_is_a_client_only() -> None:
    """It talks HTTP: importing every command loads nothing of the service."""
    probe = ("import sys, optio_cli.main; "
             "print([m for m in sys.modules if m.split('.')[0] in ('chalicelib', 'app', 'boto3', 'pynamodb')])")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert loaded.stdout.strip() == "[]"
