"""One attempt, start to finish: report started, check out, set up, run the agent, publish, report.

Exit codes: 0 once the result is delivered (whatever the agent did) or when the server says the
attempt is no longer current; 1 when the result cannot be delivered or the run token is refused;
2 when the environment is incomplete; 143 on SIGTERM.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from optio_runner.agents import create_adapter
from optio_runner.agents.base import (
    AgentAdapter,
    AgentConfigError,
    AgentContext,
    AgentResult,
    Collected,
    ErrorKind,
    ParsedLine,
)
from optio_runner.config import REQUIRED, Config, ConfigError, load_config
from optio_runner.connections import UnresolvedConnection, resolve
from optio_runner.github import GitHub, GitHubError, PullRequest, full_name_of, pr_body, pr_of_repo
from optio_runner.gitops import (
    Checkout,
    Git,
    GitError,
    check_out,
    commit_leftovers,
    has_changes,
    push,
)
from optio_runner.loglines import LogType, log_line
from optio_runner.process import Stopped, StopReason, Supervisor
from optio_runner.reporter import RESULT_RETRY, Heartbeat, LogShipper, Reporter, note
from optio_runner.sessions import Sessions, SessionStore


class _NotStarted(Exception):
    """The server did not take the attempt's start."""


class _Background:
    """A call on a thread of its own; result() waits for it."""

    def __init__(self, call: Callable[[], bool]) -> None:
        self._result = False
        self._thread = threading.Thread(target=self._run, args=(call,), name="started", daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], bool]) -> None:
        self._result = call()

    def result(self) -> bool:
        self._thread.join()
        return self._result


class Terminated(BaseException):
    """Raised on the main thread by the SIGTERM handler; BaseException so no handler eats it."""


@dataclass(frozen=True)
class Outcome:
    agent: AgentResult  # success and error here are the attempt's, git failures included
    changed: bool = False
    pushed: bool = False
    commit_sha: str | None = None
    pr_url: str | None = None
    pr_number: int | None = None

    def to_event(self, branch_name: str | None) -> dict[str, Any]:
        agent = self.agent
        return {
            "result": "success" if agent.success else "failure",
            "changed": self.changed,
            "pushed": self.pushed,
            "branchName": branch_name,
            "commitSha": self.commit_sha,
            "prUrl": self.pr_url,
            "prNumber": self.pr_number,
            "costUsd": agent.cost_usd,
            "inputTokens": agent.input_tokens,
            "outputTokens": agent.output_tokens,
            "model": agent.model,
            "sessionId": agent.session_id,
            "summary": agent.summary,
            "error": agent.error,
            "errorKind": agent.error_kind,
        }


def failed(error: str, kind: ErrorKind) -> Outcome:
    return Outcome(AgentResult(success=False, error=error, error_kind=kind))


class Runner:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.supervisor = Supervisor()
        self.reporter = Reporter(cfg.api_url, cfg.task_id, cfg.run_token, cfg.attempt, self.supervisor,
                                 cfg.events_path)
        self.logs = LogShipper(self.reporter, self.supervisor, cfg.log_flush_s)
        self.heartbeat = Heartbeat(self.reporter, cfg.heartbeat_interval_s, self._running_cost)
        self.collected: Collected | None = None
        self.agent_env: dict[str, str] = {}
        self._start_report: _Background | None = None
        self._started = False
        self.sessions = Sessions(SessionStore(cfg.api_url, cfg.events_path, cfg.task_id, cfg.run_token),
                                 cfg.agent_home, cfg.workspace, self._system)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return self._run()
        except Stopped as stop:
            return stop.reason.value
        except (Terminated, KeyboardInterrupt):
            self.supervisor.stop(StopReason.TERMINATED)
            self.supervisor.reap_current()
            return StopReason.TERMINATED.value

    def _run(self) -> int:
        # The start is reported while the checkout runs: cloning touches nothing outside this
        # workspace, so it need not wait for the server; setup and the agent do (_await_started).
        self._start_report = _Background(lambda: self.reporter.send("started", {}))
        try:
            outcome = self._attempt()
            self._await_started()
        except _NotStarted:
            self.supervisor.check()
            note("could not report that the attempt started; giving up")
            return 1
        self.logs.close()
        self.heartbeat.stop()
        self.supervisor.check()
        if self.reporter.send("result", outcome.to_event(self.cfg.branch_name or None), RESULT_RETRY):
            return 0
        self.supervisor.check()
        return 1

    def _attempt(self) -> Outcome:
        cfg = self.cfg
        adapter = create_adapter(cfg.agent_type)
        if adapter is None:
            return failed(f"unsupported agent type {cfg.agent_type}", "setup")
        # A resume continues the session an earlier attempt saved: into the fresh HOME it goes first.
        session_meta = (self.sessions.restore(adapter.session_dirs, cfg.resume_session_id)
                        if cfg.resume_session_id else None)
        try:
            mcp_servers = resolve(cfg.connections, cfg.child_env)
        except UnresolvedConnection as exc:
            return failed(str(exc), "setup")
        ctx = AgentContext(
            prompt=cfg.prompt,
            max_turns=cfg.max_turns,
            model=cfg.model,
            resume_session_id=cfg.resume_session_id,
            binary=cfg.agent_binary(adapter.name, adapter.default_binary),
            custom_command=cfg.custom_command,
            home=cfg.agent_home,
            work_dir=cfg.work_dir,
            as_root=os.geteuid() == 0,
            session_meta=session_meta,
            env=cfg.child_env,
            mcp_servers=mcp_servers,
        )
        try:
            argv = adapter.build_command(ctx)
        except AgentConfigError as exc:
            return failed(str(exc), "setup")
        self.agent_env = self._agent_environment(adapter, ctx)
        if mcp_servers:
            self._system("connections (MCP servers) for the agent: " + ", ".join(s.name for s in mcp_servers))
        if not cfg.has_repo:
            return self._attempt_without_repo(adapter, argv)

        git = Git(self.supervisor, cfg.repo_dir, cfg.child_env)
        self._system(f"checking out {cfg.branch_name} from {cfg.repo_url}")
        try:
            checkout = check_out(git, cfg.repo_url, cfg.repo_branch, cfg.branch_name, reset=cfg.reset_branch)
        except GitError as exc:
            return failed(str(exc), "git")
        origin = cfg.branch_name if checkout.branch_existed else cfg.repo_branch
        self._system(f"on {cfg.branch_name} at {checkout.start_sha[:12]} (from origin/{origin})")

        self._await_started()
        setup_error = self._run_setup()
        if setup_error is not None:
            return failed(setup_error, "setup")
        agent = self._run_agent(adapter, argv)
        return self._publish(git, checkout, agent)

    def _attempt_without_repo(self, adapter: AgentAdapter, argv: list[str]) -> Outcome:
        """A run of a standalone task: setup and agent in a scratch directory, nothing published."""
        self.cfg.work_dir.mkdir(parents=True, exist_ok=True)
        self._system(f"working in {self.cfg.work_dir} (no repository)")
        self._await_started()
        setup_error = self._run_setup()
        if setup_error is not None:
            return failed(setup_error, "setup")
        return Outcome(self._run_agent(adapter, argv))

    def _await_started(self) -> None:
        """Nothing runs the repository's code before the server has taken the start: raises
        _NotStarted if it did not; from then on logs and heartbeats flow."""
        if self._started:
            return
        assert self._start_report is not None
        if not self._start_report.result():
            raise _NotStarted
        self._started = True
        self.logs.start()
        self.heartbeat.start()

    def _run_setup(self) -> str | None:
        for command in self.cfg.setup_commands:
            self._system(f"$ {command}")
            try:
                code = self.supervisor.stream(
                    ["sh", "-c", command],
                    cwd=self.cfg.work_dir,
                    env=self.cfg.child_env,
                    on_stdout=self._system,
                )
            except OSError as exc:
                return f"setup command {command!r} could not be started: {exc}"
            if code != 0:
                return f"setup command {command!r} failed with exit code {code}"
        return None

    def _agent_environment(self, adapter: AgentAdapter, ctx: AgentContext) -> dict[str, str]:
        """The agent's HOME (with the files its CLI is configured by) and its variables."""
        ctx.home.mkdir(parents=True, exist_ok=True)
        for relative, text in adapter.config_files(ctx).items():
            path = ctx.home / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return {**self.cfg.child_env, "HOME": str(ctx.home), "OPTIO_PROMPT": self.cfg.prompt,
                **adapter.environment(ctx)}

    def _run_agent(self, adapter: AgentAdapter, argv: list[str]) -> AgentResult:
        collected = Collected()
        self.collected = collected
        over_budget = threading.Event()
        refused = threading.Event()

        def on_stdout(line: str) -> None:
            # Whatever a line holds, the pipe must keep draining, or the agent blocks on write.
            try:
                parsed = adapter.parse_line(line)
            except Exception as exc:  # noqa: BLE001
                note(f"could not parse agent output ({exc!r}); logging it as text")
                parsed = ParsedLine(logs=[log_line("text", line)])
            collected.absorb(parsed)
            self.logs.add(parsed.logs)
            if parsed.auth_failure is not None and not refused.is_set():
                # A CLI retries a refused key for minutes; nothing it does next can succeed.
                refused.set()
                self._system("the agent's API key was refused; stopping it")
                self.supervisor.interrupt()
            if self._over_budget(collected.cost_usd) and not over_budget.is_set():
                over_budget.set()
                self._system(f"the agent's cost ${collected.cost_usd:.4f} passed the budget "
                             f"${self.cfg.budget_usd:.2f}; stopping it")
                self.supervisor.interrupt()

        self._system(f"starting agent {adapter.name} ({argv[0]})"
                     + (" with no network (loopback only)" if self.cfg.agent_offline else ""))
        try:
            code = self.supervisor.stream(
                offline(argv) if self.cfg.agent_offline else argv,
                cwd=self.cfg.work_dir,
                env=self.agent_env,
                on_stdout=on_stdout,
                on_stderr=collected.add_stderr,
            )
        except OSError as exc:
            return AgentResult(
                success=False,
                error=f"could not start the agent ({argv[0]}): {exc}",
                error_kind="agent_error",
            )
        result = _judged(adapter.finish(code, collected), collected)
        if over_budget.is_set():
            result = dataclasses.replace(
                result,
                success=False,
                error=f"budget exceeded: the agent's cost ${collected.cost_usd:.4f} passed the budget "
                      f"${self.cfg.budget_usd:.2f}",
                error_kind="budget",
            )
        # Whatever the outcome: a resume may follow a failure as well as a success.
        self.sessions.save(adapter.session_dirs, result.session_id or collected.session_id,
                           adapter.session_meta(collected))
        # Held back until now: stderr is noise on success and the explanation on failure.
        stderr_type: LogType = "system" if result.success else "error"
        self.logs.add(log_line(stderr_type, line) for line in collected.stderr_tail)
        return result

    def _publish(self, git: Git, checkout: Checkout, agent: AgentResult) -> Outcome:
        """Saves the agent's work on the remote branch, whether or not the agent succeeded."""
        cfg = self.cfg
        try:
            if commit_leftovers(git, f"optio: {cfg.task_title.splitlines()[0]}"):
                self._system("committed the changes the agent left uncommitted")
            changed = has_changes(git, checkout, cfg.repo_branch)
            sha = git.head()
        except GitError as exc:
            return Outcome(_git_failure(agent, exc))
        if not changed:
            self._system("no changes to push")
            return self._with_pr(Outcome(agent), may_open=False)
        try:
            push(git, cfg.branch_name, checkout.replaces_sha)
        except GitError as exc:
            return Outcome(_git_failure(agent, exc), changed=True, commit_sha=sha)
        self._system(f"pushed {cfg.branch_name} at {sha[:12]}")
        return self._with_pr(Outcome(agent, changed=True, pushed=True, commit_sha=sha), may_open=agent.success)

    def _with_pr(self, outcome: Outcome, may_open: bool) -> Outcome:
        """Finds the branch's open PR, or opens one after a successful push (SPEC section 8). Local
        remotes and repositories without a GITHUB_TOKEN keep the outcome as it is."""
        cfg = self.cfg
        full_name = full_name_of(cfg.repo_url)
        if full_name is None:
            return outcome
        github = GitHub.from_env(cfg.child_env)
        if github is not None:
            pr: PullRequest | None
            try:
                if may_open:
                    issue = cfg.child_env.get("OPTIO_ISSUE_NUMBER", "").strip()
                    body = pr_body(outcome.agent.summary, int(issue) if issue.isdigit() else None)
                    pr = github.open_or_find(full_name, cfg.branch_name, cfg.repo_branch,
                                             cfg.task_title.splitlines()[0], body)
                else:
                    pr = github.find_open_pr(full_name, cfg.branch_name)
            except GitHubError as exc:
                self._system(f"could not open the pull request: {exc}")
                pr = None
            if pr is not None:
                self._system(f"{'opened' if pr.created else 'found'} pull request {pr.url}")
                return dataclasses.replace(outcome, pr_url=pr.url, pr_number=pr.number)
        printed = pr_of_repo(outcome.agent.summary, full_name)
        if printed is not None:
            return dataclasses.replace(outcome, pr_url=printed[0], pr_number=printed[1])
        return outcome

    def _system(self, line: str) -> None:
        self.logs.add([log_line("system", line)])

    def _over_budget(self, cost: float | None) -> bool:
        return self.cfg.budget_usd is not None and cost is not None and cost > self.cfg.budget_usd

    def _running_cost(self) -> float | None:
        return self.collected.cost_usd if self.collected is not None else None


def _judged(result: AgentResult, collected: Collected) -> AgentResult:
    """What every CLI's result means once the refusals seen on the way are counted: a success
    with a refused tool is not one; a failure after the API kept refusing for load is a rate
    limit, which the retry policy treats differently from the agent's own error."""
    if result.success and collected.permission_denied is not None:
        return dataclasses.replace(
            result, success=False, error_kind="agent_error",
            error=f"the agent reported success, but a tool it needed was refused: {collected.permission_denied}",
        )
    if not result.success and result.error_kind == "agent_error" and collected.rate_limited is not None:
        return dataclasses.replace(
            result, error_kind="rate_limited",
            error=f"the agent's API kept refusing for rate limit or overload ({collected.rate_limited}); {result.error}",
        )
    return result


def _git_failure(agent: AgentResult, exc: GitError) -> AgentResult:
    if agent.success:
        return dataclasses.replace(agent, success=False, error=str(exc), error_kind="git")
    return dataclasses.replace(agent, error=f"{agent.error}; then {exc}")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM must not interrupt the cleanup the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


USAGE = (
    "usage: python -m optio_runner\n"
    "  Runs one attempt of one Optio task; all input comes from the environment.\n"
    f"  required: {', '.join(REQUIRED)}\n"
    "  (OPTIO_RUN_KIND=workflow-run: no repository, so no OPTIO_REPO_URL or OPTIO_BRANCH_NAME)\n"
    "  optional: OPTIO_REPO_BRANCH, OPTIO_TASK_TITLE, OPTIO_MAX_TURNS, OPTIO_MODEL, OPTIO_RESUME_SESSION_ID,\n"
    "            OPTIO_SETUP_COMMANDS, OPTIO_CUSTOM_COMMAND, OPTIO_BUDGET_USD, OPTIO_HEARTBEAT_INTERVAL_MS,\n"
    "            OPTIO_LOG_FLUSH_MS, OPTIO_WORKSPACE, OPTIO_AGENT_BIN_<TYPE>"
)


def main() -> int:
    try:
        cfg = load_config(os.environ)
    except ConfigError as exc:
        print(f"optio-runner: {exc}\n{USAGE}", file=sys.stderr)
        return 2
    return Runner(cfg).run()


def offline(argv: list[str]) -> list[str]:
    """`argv` in a new network namespace whose only interface is loopback (brought up). Without
    root, a user namespace maps us to root in it; unshare and sh exec, so the agent keeps the
    process group the supervisor signals. A host without unshare or ip fails the start: never
    an agent with the network it was to be denied."""
    user_namespace = [] if os.getuid() == 0 else ["--map-root-user"]
    return ["unshare", "--net", *user_namespace, "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]
