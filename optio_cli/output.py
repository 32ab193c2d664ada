"""What reads print: `--json` gives the API's own JSON (for scripts, `jq`); otherwise short
tables and `key: value` lines for people."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")(command)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value).replace("\n", " ")


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str], empty: str = "nothing") -> None:
    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    if not cells:
        click.echo(f"({empty})", err=True)
        return
    widths = [max(len(column), *(len(r[i]) for r in cells)) for i, column in enumerate(columns)]
    header = [re.sub(r"(?<=[a-z])(?=[A-Z])", "_", column).upper() for column in columns]  # costUsd: COST_USD
    for line in [header, *cells]:
        click.echo("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())


def fields(item: dict[str, Any], names: Sequence[str]) -> None:
    """`key: value`, only for the keys present and set; `--json` shows everything."""
    present = [name for name in names if item.get(name) is not None]
    width = max((len(name) for name in present), default=0)
    for name in present:
        click.echo(f"{name + ':':<{width + 1}} {cell(item[name])}")


def created(item_id: str, following: bool) -> None:
    """A new task's or run's id: alone on stdout for `ID=$(optio ...)`, or on stderr when the logs
    that follow take stdout."""
    click.echo(f"following {item_id}" if following else item_id, err=following)


def show(value: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    if as_json:
        print_json(value)
    else:
        render(value)
