"""Prompt templates: `{{param}}` placeholders and `{{#if param}}...{{else}}...{{/if}}` blocks
(nesting allowed), filled from a run's params. The one engine for every rendered title and prompt.

- `{{name}}` is replaced by the param's value; a name `params` lacks stays as written.
- `{{#if name}}A{{else}}B{{/if}}` keeps A when the param is truthy, else B (the `{{else}}` part is
  optional). Falsy, as in Handlebars: missing, `null`, `false`, `0`, `""` and `[]`.
- Tags that do not pair up (an `{{#if}}` never closed, a stray `{{else}}` or `{{/if}}`) stay as
  written, so text that uses braces for its own reasons survives.
- One pass over the template: a value is never expanded again.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_TAG = re.compile(r"\{\{\s*(?:#if\s+(?P<if>" + _NAME + r")|(?P<else>else)|(?P<end>/if)|(?P<var>" + _NAME
                  + r"))\s*\}\}")


def _text(value: Any) -> str:
    # Strings go in as written; anything else as JSON, so `true` and `null` read as they were sent.
    return value if isinstance(value, str) else json.dumps(value)


def truthy(value: Any) -> bool:
    if value is None or value is False or value == "" or value == []:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    return True


@dataclass
class _Block:
    name: str
    then: list[Any] = field(default_factory=list)
    otherwise: list[Any] | None = None


@dataclass(frozen=True)
class _Token:
    kind: str  # "text", "if", "else", "end", "var"
    text: str
    name: str = ""


def _tokens(template: str) -> list[_Token]:
    tokens: list[_Token] = []
    at = 0
    for match in _TAG.finditer(template):
        if match.start() > at:
            tokens.append(_Token("text", template[at:match.start()]))
        kind = next(k for k in ("if", "else", "end", "var") if match.group(k) is not None)
        tokens.append(_Token(kind, match.group(0), match.group(kind) if kind in ("if", "var") else ""))
        at = match.end()
    if at < len(template):
        tokens.append(_Token("text", template[at:]))
    return tokens


def _pairs(tokens: list[_Token]) -> tuple[dict[int, int], dict[int, int]]:
    """Which `{{/if}}` closes which `{{#if}}`, and which `{{else}}` belongs to it. Tags left out
    of both maps are literal text."""
    closes: dict[int, int] = {}
    elses: dict[int, int] = {}
    open_ifs: list[int] = []
    for index, token in enumerate(tokens):
        if token.kind == "if":
            open_ifs.append(index)
        elif token.kind == "else" and open_ifs and open_ifs[-1] not in elses:
            elses[open_ifs[-1]] = index
        elif token.kind == "end" and open_ifs:
            closes[open_ifs.pop()] = index
    # An `{{#if}}` never closed is text, and so is its `{{else}}`.
    for unclosed in open_ifs:
        elses.pop(unclosed, None)
    return closes, elses


def _parse(tokens: list[_Token], start: int, stop: int, closes: dict[int, int],
           elses: dict[int, int]) -> list[Any]:
    nodes: list[Any] = []
    index = start
    while index < stop:
        token = tokens[index]
        if token.kind == "if" and index in closes:
            end = closes[index]
            middle = elses.get(index)
            block = _Block(token.name)
            block.then = _parse(tokens, index + 1, middle if middle is not None else end, closes, elses)
            if middle is not None:
                block.otherwise = _parse(tokens, middle + 1, end, closes, elses)
            nodes.append(block)
            index = end + 1
            continue
        nodes.append(token)
        index += 1
    return nodes


def _emit(nodes: list[Any], params: Mapping[str, Any], out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, _Block):
            branch = node.then if truthy(params.get(node.name)) else node.otherwise or []
            _emit(branch, params, out)
        elif node.kind == "var" and node.name in params:
            out.append(_text(params[node.name]))
        else:
            out.append(node.text)


def render(template: str, params: Mapping[str, Any]) -> str:
    """`template` with its placeholders and blocks filled from `params`."""
    tokens = _tokens(template)
    closes, elses = _pairs(tokens)
    out: list[str] = []
    _emit(_parse(tokens, 0, len(tokens), closes, elses), params, out)
    return "".join(out)
