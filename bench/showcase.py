"""Local mode with a store that looks like a team's: three GitHub repositories, 240 tasks over the
last two weeks in every finished state, with agents, pull requests, CI and costs, one with a
5,000-line log, and a few schedules. The Lighthouse bench and the README's screenshots use it."""
from __future__ import annotations

import os
import random
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.local.dynamodb_local import DynamoDBLocal  # noqa: E402
from tests.support.localmode import LocalMode, start_local_mode  # noqa: E402

LOG_LINES = 5000


def seed(repo_url: str, tasks: int, now: datetime) -> str:
    """`tasks` finished repo tasks over the last 14 days, written straight to the tables (as the
    executor leaves them); returns the id of the one with a 5,000-line log."""
    from chalicelib.core.timefmt import iso
    from chalicelib.services.repos import register_repo
    from chalicelib.store import logs
    from chalicelib.store.models import ExecutionEventModel, ExecutionModel

    repos = [register_repo({"repoUrl": f"{repo_url}/{name}"}) for name in ("web", "api", "mobile")]
    rng = random.Random(21)
    states = ["completed"] * 6 + ["failed"] * 2 + ["cancelled", "needs_attention"]
    verbs = ["Fix", "Add", "Refactor", "Speed up", "Document", "Test"]
    things = ["login redirect", "billing export", "search index", "flaky upload test", "dark mode toggle",
              "rate limiter", "CSV import", "webhook retries", "audit log", "onboarding emails"]
    agents = ["claude-code", "codex", "copilot"]
    detail = ""
    with ExecutionModel.batch_write() as batch, ExecutionEventModel.batch_write() as events:
        for n in range(tasks):
            repo = repos[n % len(repos)]
            task_id = str(uuid.uuid4())
            created = now - timedelta(minutes=rng.randint(5, 14 * 24 * 60))
            started = created + timedelta(seconds=rng.randint(5, 90))
            finished = started + timedelta(seconds=rng.randint(60, 1800))
            state = "completed" if n == 0 else rng.choice(states)
            pr = state in ("completed", "needs_attention") and rng.random() < 0.8
            number = 100 + n
            batch.save(ExecutionModel(
                id=task_id, type="repo-task", state=state, title=f"{rng.choice(verbs)} {rng.choice(things)} #{n}",
                prompt="Make the change, run the tests, open a pull request.", repoId=repo.id, repoUrl=repo.repoUrl,
                repoBranch="main", branchName=f"optio/{task_id[:8]}", agentType=agents[n % len(agents)],
                priority=n, maxRetries=0, retryCount=0, attempt=1, version=4,
                prUrl=f"{repo.repoUrl}/pull/{number}" if pr else None, prNumber=number if pr else None,
                prState=("merged" if state == "completed" else "open") if pr else None,
                prChecksStatus=rng.choice(["success", "success", "failure", "pending"]) if pr else None,
                costUsd=round(rng.uniform(0.05, 3.5) * (1.6, 1.0, 0.5)[n % len(repos)], 4), inputTokens=rng.randint(10_000, 900_000),
                outputTokens=rng.randint(1_000, 60_000), modelUsed="claude-sonnet-4-5",
                errorMessage="the agent exited with status 1" if state == "failed" else None,
                resultSummary="Done: the change and its tests." if state == "completed" else None,
                createdAt=iso(created), updatedAt=iso(finished), queuedAt=iso(created), launchedAt=iso(started),
                startedAt=iso(started), completedAt=iso(finished)))
            for version, (before, after, at) in enumerate(
                    [(None, "queued", created), ("queued", "provisioning", started),
                     ("provisioning", "running", started), ("running", state, finished)], start=1):
                events.save(ExecutionEventModel(executionId=task_id, eventKey=f"{version:08d}", fromState=before,
                                                toState=after, trigger="bench", at=iso(at), actor="system"))
            if n == 0:
                detail = task_id
    kinds = ["text", "tool_use", "tool_result", "thinking"]
    for start in range(0, LOG_LINES, 100):  # as the runner sends them: batches of up to 100
        logs.append(detail, 1, [logs.LogLine(kinds[k % 4], f"Line {k + 1} of {LOG_LINES}: " + "ran the step " * 4,
                                             iso(now - timedelta(seconds=LOG_LINES - k)))
                                for k in range(start, min(LOG_LINES, start + 100))])
    return detail


def schedules(mode: LocalMode) -> None:
    """Two repositories' nightly work and a weekly report, through the API as a person makes them."""
    repos = mode.api.ok("GET", "/api/repos")["items"]
    for repo, name, cron in ((repos[0], "Nightly dependency bumps", "0 3 * * *"),
                             (repos[1], "Weekly flaky-test sweep", "0 6 * * 1")):
        config = mode.api.ok("POST", "/api/tasks", {"type": "repo-blueprint", "name": name, "repoId": repo["id"],
                                                    "prompt": "Update what is outdated, run the tests."}, status=201)
        mode.api.ok("POST", f"/api/tasks/{config['id']}/triggers",
                    {"type": "schedule", "config": {"cronExpression": cron}}, status=201)
    report = mode.api.ok("POST", "/api/tasks", {"type": "standalone", "name": "Release notes",
                                                "promptTemplate": "Summarise this week's merged pull requests."},
                         status=201)
    mode.api.ok("POST", f"/api/tasks/{report['id']}/triggers",
                {"type": "schedule", "config": {"cronExpression": "0 9 * * 5"}}, status=201)


@contextmanager
def showcase(tmp: Path, tasks: int = 240) -> Iterator[tuple[LocalMode, str]]:
    """Local mode on DynamoDB Local with the seeded store; yields it and the long-log task's id."""
    prefix = f"showcase-{uuid.uuid4().hex[:6]}-"
    with DynamoDBLocal(ROOT / ".deps", log_path=tmp / "dynamodb.log") as ddb:
        os.environ.update(OPTIO_DYNAMODB_ENDPOINT=ddb.endpoint, OPTIO_TABLE_PREFIX=prefix,
                          AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
        from chalicelib.store.tables import create_all

        create_all()
        detail = seed("https://github.com/acme", tasks, datetime.now(UTC))
        mode = start_local_mode(tmp, OPTIO_DYNAMODB_ENDPOINT=ddb.endpoint, OPTIO_TABLE_PREFIX=prefix)
        try:
            schedules(mode)
            yield mode, detail
        finally:
            mode.stop()
