"""`POST /api/webhooks/github` (SPEC §8): signed by `GITHUB_WEBHOOK_SECRET`; each delivery acts once.

A merged `pull_request` completes its task at once; other pull request, review and check events
make the watcher look at that PR now. Either way the event only writes what GitHub says on the
task row (the stream then wakes the executor), so a webhook and the watcher seeing the same thing
act once.
"""
from __future__ import annotations

from typing import Any

from chalicelib.core import pull_requests
from chalicelib.core.issues import delivery_key, valid_signature
from chalicelib.core.states import ExecutionKind, State
from chalicelib.core.timefmt import iso
from chalicelib.engine.clock import utcnow
from chalicelib.engine.credentials import GITHUB_WEBHOOK_SECRET
from chalicelib.exceptions import Conflict, NotFound, Unauthorized
from chalicelib.observability import logger
from chalicelib.store import claims, executions, secrets
from chalicelib.store.models import ExecutionModel

from .validation import parse_body

SECRET_NAME = GITHUB_WEBHOOK_SECRET
OPTIO_LABEL = "optio"
PR_EVENTS = frozenset({"pull_request", "pull_request_review", "check_run", "check_suite"})
CAS_TRIES = 4


def handle(headers: dict[str, str], raw: bytes) -> dict[str, Any]:
    lowered = {k.lower(): v for k, v in headers.items()}
    secret = secrets.value_of(SECRET_NAME) or ""
    if not valid_signature(secret, raw, lowered.get("x-hub-signature-256")):
        raise Unauthorized("invalid or missing X-Hub-Signature-256")
    event = lowered.get("x-github-event", "")
    if event == "ping":
        return {"ok": True, "event": "ping"}
    # GitHub's payloads are acted on, not stored: only JSON itself and its depth are checked.
    payload = parse_body(raw or b"{}", storable=False)
    delivery = lowered.get("x-github-delivery")
    if delivery:
        if claims.claim(delivery_key(delivery), event or "?", utcnow()) is not None:
            return {"ok": True, "event": event, "duplicate": True}
    try:
        acted = _act(event, payload if isinstance(payload, dict) else {})
    except Exception:
        if delivery:
            # Not acted on: GitHub's redelivery may try again.
            claims.release(delivery_key(delivery), event or "?")
        raise
    return {"ok": True, "event": event, "acted": acted}


def _act(event: str, payload: dict[str, Any]) -> list[str]:
    if event == "pull_request" and payload.get("action") == "closed":
        pr = payload.get("pull_request") or {}
        if pr.get("merged"):
            return [t.id for t in _tasks_of(str(pr.get("html_url") or "")) if _merged(t, pr)]
    if event == "issues" and payload.get("action") == "labeled":
        if (payload.get("label") or {}).get("name") != OPTIO_LABEL:
            return []
        from .tickets import sync_github_repo

        full_name = str((payload.get("repository") or {}).get("full_name") or "")
        return [f"synced:{full_name}:{sync_github_repo(full_name)}"] if full_name else []
    if event in PR_EVENTS:
        return [t.id for url in _pr_urls(event, payload) for t in _tasks_of(url) if _look_now(t)]
    return []


def _pr_urls(event: str, payload: dict[str, Any]) -> list[str]:
    if event in ("pull_request", "pull_request_review"):
        url = (payload.get("pull_request") or {}).get("html_url")
        return [str(url)] if url else []
    repo_url = str((payload.get("repository") or {}).get("html_url") or "")
    body = payload.get(event) or {}
    return [f"{repo_url}/pull/{pr['number']}" for pr in body.get("pull_requests") or []
            if repo_url and isinstance(pr, dict) and pr.get("number")]


def _tasks_of(pr_url: str) -> list[ExecutionModel]:
    if not pr_url:
        return []
    ids = [row.id for row in ExecutionModel.pr_url_index.query(pr_url)]
    found = []
    for task_id in ids:
        try:
            task = executions.get(task_id, ExecutionKind.REPO_TASK)
        except NotFound:
            continue
        if State(task.state) is State.PR_OPENED:
            found.append(task)
    return found


def _merged(task: ExecutionModel, pr: dict[str, Any]) -> bool:
    """Write the "merged" observation, the stream then has the executor complete the task. The delivery
    is claimed already, so a lost race must not drop the observation: the row is read again and
    the observation applied to it, while the task still waits on its PR."""
    seen = pull_requests.PrView(state=pull_requests.PrState.MERGED, head_sha=str((pr.get("head") or {}).get("sha") or ""))
    for _ in range(CAS_TRIES):
        if State(task.state) is not State.PR_OPENED:
            return False
        try:
            executions.update(task, pull_requests.observed_fields(seen, iso(utcnow())), utcnow())
            break
        except executions.LostRace:
            try:
                task = executions.get(task.id, ExecutionKind.REPO_TASK)
            except NotFound:
                return False
    else:
        raise Conflict(f"task {task.id} kept changing; GitHub will deliver the event again")
    return True


def _look_now(task: ExecutionModel) -> bool:
    from chalicelib.forge.github import Forge, ForgeError, NotConfigured, Throttled
    from chalicelib.forge.watcher import observe_task

    try:
        written = observe_task(task, Forge.connect())
    except (NotConfigured, Throttled, ForgeError) as error:
        logger.info("webhook.observe_deferred", extra={"taskId": task.id, "reason": str(error)})
        return False
    return written
