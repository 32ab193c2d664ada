"""`optio runs|blueprints|triggers|templates|repos|secrets|issues`."""
from __future__ import annotations

import sys
from typing import Any

import click

from . import follow as following
from .client import segment
from .context import State, pass_state
from .errors import NOT_FOUND, USAGE, CliError
from .follow import Subject
from .output import F, created, fields, json_option, show, table
from .params import drop_none, json_object, params, repo_ref, text_or_stdin


def param_options(command: F) -> F:
    command = click.option("--params", "params_json", metavar="JSON",
                           help="Params as a JSON object (or @file).")(command)
    return click.option("--param", "param_pairs", multiple=True, metavar="NAME=VALUE",
                        help="One param, as a string (repeatable; overrides --params).")(command)


def config_path(config_id: str, rest: str = "") -> str:
    return f"/api/tasks/{segment(config_id)}{rest}"


# --- runs ---------------------------------------------------------------------------------------

RUN_FIELDS = ("id", "taskConfigId", "state", "params", "prompt", "output", "costUsd", "inputTokens",
              "outputTokens", "modelUsed", "retryCount", "maxRetries", "attempt", "startedAt", "finishedAt",
              "errorMessage", "errorKind")


@click.group()
def runs() -> None:
    """Runs of a blueprint (each an ordinary repo task: see `optio tasks`) or of a standalone task."""


@runs.command("start")
@click.argument("config_id")
@param_options
@click.option("--follow", "-f", is_flag=True, help="Then follow the run until its agent is done.")
@pass_state
def runs_start(state: State, config_id: str, param_pairs: tuple[str, ...], params_json: str | None,
               follow: bool) -> None:
    """Run a blueprint or standalone task now; prints the run's id."""
    body = drop_none(params=params(param_pairs, params_json))
    started = state.client.post(config_path(config_id, "/runs"), body)
    run_id = started["runId"]
    created(run_id, follow)
    if follow:
        # A blueprint's run is a repo task; a standalone task's run is a workflow run.
        subject = Subject.task(run_id) if started.get("type") == "repo-task" else Subject.run(run_id)
        following.follow(state.client, subject, 0, False, True)


@runs.command("list")
@click.argument("config_id")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@json_option
@pass_state
def runs_list(state: State, config_id: str, limit: int, as_json: bool) -> None:
    """A blueprint's or standalone task's runs, newest first."""
    items = list(state.client.pages(config_path(config_id, "/runs"), limit))
    show(items, as_json, lambda rows: table(rows, ("id", "state", "costUsd", "createdAt"), empty="no runs"))


@runs.command("show")
@click.argument("run_id")
@json_option
@pass_state
def runs_show(state: State, run_id: str, as_json: bool) -> None:
    """One run of a standalone task."""
    show(state.client.get(f"/api/workflow-runs/{segment(run_id)}"), as_json, lambda r: fields(r, RUN_FIELDS))


@runs.command("logs")
@click.argument("run_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the agent is done, with its progress.")
@json_option
@pass_state
def runs_logs(state: State, run_id: str, follow: bool, as_json: bool) -> None:
    """A standalone run's log lines."""
    following.follow(state.client, Subject.run(run_id), 0, as_json, follow)


@runs.command("cancel")
@click.argument("run_id")
@json_option
@pass_state
def runs_cancel(state: State, run_id: str, as_json: bool) -> None:
    """Stop a queued or running standalone run."""
    run = state.client.post(f"/api/workflow-runs/{segment(run_id)}/cancel")
    show(run, as_json, lambda r: click.echo(f"{r['id']} {r['state']}"))


@runs.command("retry")
@click.argument("run_id")
@json_option
@pass_state
def runs_retry(state: State, run_id: str, as_json: bool) -> None:
    """Queue a failed standalone run again."""
    run = state.client.post(f"/api/workflow-runs/{segment(run_id)}/retry")
    show(run, as_json, lambda r: click.echo(f"{r['id']} {r['state']}"))


# --- blueprints ---------------------------------------------------------------------------------

BLUEPRINT_FIELDS = ("id", "name", "title", "prompt", "promptTemplateId", "repoUrl", "repoId", "repoBranch",
                    "agentType", "priority", "maxRetries", "paramsSchema", "enabled", "createdAt", "updatedAt")


@click.group()
def blueprints() -> None:
    """Blueprints: saved repo task definitions, run by hand (`optio runs start`) or by triggers."""


@blueprints.command("list")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@json_option
@pass_state
def blueprints_list(state: State, limit: int, as_json: bool) -> None:
    """Blueprints, newest first."""
    items = list(state.client.pages("/api/tasks", limit, type="repo-blueprint"))
    show(items, as_json, lambda rows: table(rows, ("id", "name", "enabled", "repoUrl"), empty="no blueprints"))


@blueprints.command("show")
@click.argument("blueprint_id")
@json_option
@pass_state
def blueprints_show(state: State, blueprint_id: str, as_json: bool) -> None:
    """One blueprint."""
    show(state.client.get(config_path(blueprint_id)), as_json, lambda b: fields(b, BLUEPRINT_FIELDS))


@blueprints.command("create")
@click.option("--name", required=True)
@click.option("--repo", required=True, help="A registered repository's id, or a URL.")
@click.option("--prompt", required=True, help="A template ({{param}}, {{#if}}); `-` reads it from stdin.")
@click.option("--title", help="A template for the runs' titles.")
@click.option("--branch")
@click.option("--agent", "agent_type")
@click.option("--priority", type=click.IntRange(0, 1000))
@click.option("--max-retries", type=click.IntRange(0))
@click.option("--params-schema", metavar="JSON", help="A JSON Schema for the params (or @file).")
@click.option("--disabled", is_flag=True, help="Create it paused.")
@json_option
@pass_state
def blueprints_create(state: State, name: str, repo: str, prompt: str, title: str | None, branch: str | None,
                      agent_type: str | None, priority: int | None, max_retries: int | None,
                      params_schema: str | None, disabled: bool, as_json: bool) -> None:
    """Create a blueprint; prints its id."""
    body = drop_none(type="repo-blueprint", name=name, prompt=text_or_stdin(prompt), title=title, repoBranch=branch,
                     agentType=agent_type, priority=priority, maxRetries=max_retries,
                     paramsSchema=json_object(params_schema, "--params-schema"),
                     enabled=False if disabled else None, **repo_ref(repo))
    created = state.client.post("/api/tasks", body)
    show(created, as_json, lambda b: click.echo(b["id"]))


def _set_enabled(state: State, blueprint_id: str, enabled: bool) -> None:
    state.client.request("PATCH", config_path(blueprint_id), {"enabled": enabled})


@blueprints.command("enable")
@click.argument("blueprint_id")
@pass_state
def blueprints_enable(state: State, blueprint_id: str) -> None:
    """Let the blueprint run again."""
    _set_enabled(state, blueprint_id, True)


@blueprints.command("disable")
@click.argument("blueprint_id")
@pass_state
def blueprints_disable(state: State, blueprint_id: str) -> None:
    """Pause the blueprint: its triggers stop firing and runs are refused."""
    _set_enabled(state, blueprint_id, False)


@blueprints.command("delete")
@click.argument("blueprint_id")
@pass_state
def blueprints_delete(state: State, blueprint_id: str) -> None:
    """Delete a blueprint and its triggers (not its runs)."""
    state.client.request("DELETE", config_path(blueprint_id))


# --- triggers -----------------------------------------------------------------------------------

@click.group()
def triggers() -> None:
    """Triggers of a blueprint or standalone task: a schedule or a webhook."""


@triggers.command("list")
@click.argument("config_id")
@json_option
@pass_state
def triggers_list(state: State, config_id: str, as_json: bool) -> None:
    """The triggers of a blueprint or standalone task."""
    items = state.client.get(config_path(config_id, "/triggers"))["items"]
    show(items, as_json, lambda rows: table(rows, ("id", "type", "enabled", "config", "nextFireAt"),
                                            empty="no triggers"))


@triggers.command("create")
@click.argument("config_id")
@click.option("--schedule", metavar="CRON", help="Five cron fields, in UTC: '0 6 * * *'.")
@click.option("--webhook", metavar="PATH", help="Deliveries to /api/hooks/PATH start runs.")
@click.option("--map", "mapping", multiple=True, metavar="NAME=JSONPATH",
              help="A webhook param picked from the body (repeatable).")
@click.option("--secret-stdin", is_flag=True, help="Read the webhook's signing secret from stdin.")
@click.option("--disabled", is_flag=True)
@json_option
@pass_state
def triggers_create(state: State, config_id: str, schedule: str | None, webhook: str | None,
                    mapping: tuple[str, ...], secret_stdin: bool, disabled: bool, as_json: bool) -> None:
    """Add a schedule (--schedule) or a webhook (--webhook) trigger; prints its id."""
    if (schedule is None) == (webhook is None):
        raise CliError("give exactly one of --schedule and --webhook", USAGE)
    if webhook is None and (mapping or secret_stdin):
        raise CliError("--map and --secret-stdin are for --webhook", USAGE)
    if schedule is not None:
        body: dict[str, Any] = {"type": "schedule", "config": {"cronExpression": schedule}}
    else:
        config: dict[str, Any] = {"path": webhook}
        if mapping:
            config["paramMapping"] = {name: path for name, _, path in (m.partition("=") for m in mapping)}
        if secret_stdin:
            config["secret"] = sys.stdin.read().strip()
        body = {"type": "webhook", "config": config}
    if disabled:
        body["enabled"] = False
    created = state.client.post(config_path(config_id, "/triggers"), body)
    show(created, as_json, lambda t: click.echo(t["id"]))


def _trigger_path(config_id: str, trigger_id: str) -> str:
    return config_path(config_id, f"/triggers/{segment(trigger_id)}")


@triggers.command("pause")
@click.argument("config_id")
@click.argument("trigger_id")
@pass_state
def triggers_pause(state: State, config_id: str, trigger_id: str) -> None:
    """Stop a trigger firing (it is kept)."""
    state.client.request("PATCH", _trigger_path(config_id, trigger_id), {"enabled": False})


@triggers.command("resume")
@click.argument("config_id")
@click.argument("trigger_id")
@pass_state
def triggers_resume(state: State, config_id: str, trigger_id: str) -> None:
    """Let a paused trigger fire again."""
    state.client.request("PATCH", _trigger_path(config_id, trigger_id), {"enabled": True})


@triggers.command("delete")
@click.argument("config_id")
@click.argument("trigger_id")
@pass_state
def triggers_delete(state: State, config_id: str, trigger_id: str) -> None:
    """Delete a trigger."""
    state.client.request("DELETE", _trigger_path(config_id, trigger_id))


# --- templates ----------------------------------------------------------------------------------

@click.group()
def templates() -> None:
    """Task templates: a prompt (with params) to create tasks from."""


def template_id(state: State, ref: str) -> str:
    """A template's id, or its exact name."""
    try:
        found: dict[str, Any] = state.client.get(f"/api/templates/{segment(ref)}")
        return str(found["id"])
    except CliError as error:
        if error.exit_code != NOT_FOUND:
            raise
    for template in state.client.pages("/api/templates"):
        if template.get("name") == ref:
            return str(template["id"])
    raise CliError(f"no template with id or name {ref!r}", NOT_FOUND)


@templates.command("list")
@json_option
@pass_state
def templates_list(state: State, as_json: bool) -> None:
    """Templates."""
    items = list(state.client.pages("/api/templates"))
    show(items, as_json, lambda rows: table(rows, ("id", "name", "repoUrl", "agentType"), empty="no templates"))


@templates.command("show")
@click.argument("template")
@json_option
@pass_state
def templates_show(state: State, template: str, as_json: bool) -> None:
    """One template, by id or name."""
    found = state.client.get(f"/api/templates/{segment(template_id(state, template))}")
    show(found, as_json, lambda t: fields(t, ("id", "name", "title", "prompt", "repoUrl", "repoId", "agentType",
                                              "priority", "paramsSchema", "createdAt", "updatedAt")))


@templates.command("run")
@click.argument("template")
@click.option("--title")
@click.option("--repo", help="A repository's id or URL (default: the template's).")
@click.option("--priority", type=click.IntRange(0, 1000))
@param_options
@click.option("--follow", "-f", is_flag=True, help="Then follow the task until its agent is done.")
@json_option
@pass_state
def templates_run(state: State, template: str, title: str | None, repo: str | None, priority: int | None,
                  param_pairs: tuple[str, ...], params_json: str | None, follow: bool, as_json: bool) -> None:
    """Create a repo task from a template (by id or name); prints the task's id (see tasks create)."""
    body = drop_none(title=title, priority=priority, params=params(param_pairs, params_json),
                     **(repo_ref(repo) if repo else {}))
    task = state.client.post(f"/api/templates/{segment(template_id(state, template))}/run", body)
    if follow:
        created(task["id"], following=True)
        following.follow(state.client, Subject.task(task["id"]), 0, as_json, True)
    else:
        show(task, as_json, lambda t: created(t["id"], following=False))


# --- repos --------------------------------------------------------------------------------------

@click.group()
def repos() -> None:
    """Repositories Optio works on."""


@repos.command("list")
@json_option
@pass_state
def repos_list(state: State, as_json: bool) -> None:
    """Registered repositories."""
    items = list(state.client.pages("/api/repos"))
    show(items, as_json, lambda rows: table(rows, ("id", "repoUrl", "defaultBranch", "defaultAgentType"),
                                            empty="no repositories"))


@repos.command("show")
@click.argument("repo_id")
@json_option
@pass_state
def repos_show(state: State, repo_id: str, as_json: bool) -> None:
    """One repository with its settings."""
    show(state.client.get(f"/api/repos/{segment(repo_id)}"), as_json, lambda r: fields(r, sorted(r)))


@repos.command("add")
@click.argument("repo_url")
@click.option("--settings", metavar="JSON", help="Settings as a JSON object (or @file), as in PATCH /api/repos.")
@json_option
@pass_state
def repos_add(state: State, repo_url: str, settings: str | None, as_json: bool) -> None:
    """Register a repository; prints its id."""
    created = state.client.post("/api/repos", {**(json_object(settings, "--settings") or {}), "repoUrl": repo_url})
    show(created, as_json, lambda r: click.echo(r["id"]))


@repos.command("remove")
@click.argument("repo_id")
@pass_state
def repos_remove(state: State, repo_id: str) -> None:
    """Unregister a repository (not while its tasks run)."""
    state.client.request("DELETE", f"/api/repos/{segment(repo_id)}")


# --- secrets ------------------------------------------------------------------------------------

@click.group()
def secrets() -> None:
    """Secrets agents get as environment variables (values are never shown)."""


@secrets.command("list")
@json_option
@pass_state
def secrets_list(state: State, as_json: bool) -> None:
    """Secret names and times."""
    items = state.client.get("/api/secrets")["items"]
    show(items, as_json, lambda rows: table(rows, ("name", "createdAt", "updatedAt"), empty="no secrets"))


@secrets.command("set")
@click.argument("name")
@pass_state
def secrets_set(state: State, name: str) -> None:
    """Set NAME to a value read from stdin (asked for without echo on a terminal).

    The value is never an argument: arguments are visible to every user in `ps`.

    \b
    optio secrets set GITHUB_TOKEN < token.txt
    printf %s "$VALUE" | optio secrets set ANTHROPIC_API_KEY
    """
    stdin = sys.stdin
    if stdin.isatty():
        value = click.prompt(f"Value of {name}", hide_input=True, confirmation_prompt=True, err=True)
    else:
        # One trailing newline is the file's or echo's, not the secret's.
        value = stdin.read().removesuffix("\n").removesuffix("\r")
    if not value:
        raise CliError("the value is empty", USAGE)
    state.client.request("PUT", f"/api/secrets/{segment(name)}", {"value": value})
    click.echo(f"secret {name} set", err=True)


@secrets.command("delete")
@click.argument("name")
@pass_state
def secrets_delete(state: State, name: str) -> None:
    """Delete a secret."""
    state.client.request("DELETE", f"/api/secrets/{segment(name)}")


# --- issues -------------------------------------------------------------------------------------

@click.group()
def issues() -> None:
    """Open GitHub issues of the connected repositories."""


@issues.command("list")
@click.option("--repo", "repo_id", metavar="REPO_ID")
@json_option
@pass_state
def issues_list(state: State, repo_id: str | None, as_json: bool) -> None:
    """Open issues, unassigned first."""
    items = state.client.get("/api/issues", repoId=repo_id)["items"]
    rows = [{**issue, "task": (issue.get("task") or {}).get("taskId")} for issue in items]
    show(items, as_json, lambda _: table(rows, ("repoName", "number", "title", "task"), empty="no open issues"))


@issues.command("assign")
@click.argument("number", type=click.IntRange(1))
@click.option("--repo", "repo_id", required=True, metavar="REPO_ID")
@click.option("--agent", "agent_type")
@json_option
@pass_state
def issues_assign(state: State, number: int, repo_id: str, agent_type: str | None, as_json: bool) -> None:
    """Give issue NUMBER to an agent: prints the task's id (the same task if already assigned)."""
    task = state.client.post("/api/issues/assign", drop_none(repoId=repo_id, issueNumber=number,
                                                             agentType=agent_type))
    show(task, as_json, lambda t: click.echo(t["id"]))

