"""GitHub Copilot CLI (`copilot -p ... --allow-all-tools`): plain text for a human.

Tool calls start with a bullet (`●`, `✓` done, `✗` failed) and their output is indented under
`└`/`│`; the rest is the agent's prose. After the answer comes a usage summary ("Total usage
est: ...", then one line per model with its tokens), which is where the model and the token
counts come from. Copilot bills premium requests, not dollars, so there is no cost.
"""

from __future__ import annotations

import re
from typing import Any

from optio_runner.agents.base import AdapterDefaults, AgentContext, AgentResult, Collected, ParsedLine
from optio_runner.agents.parsing import matching, strip_ansi
from optio_runner.agents.verdict import verdict
from optio_runner.loglines import log_line, truncate

MAX_SUMMARY = 4000
AUTH_MARKERS = (
    "no authentication information found",
    "not authenticated",
    "authentication failed",
    "bad credentials",
    "401 unauthorized",
    "copilot_github_token",
)
TOOL_STARTS = ("●", "✓")
TOOL_FAILED = "✗"
TOOL_OUTPUT = ("└", "│")
STATS_HEADINGS = ("total usage est", "total duration", "api time spent", "total session time",
                  "total code changes", "usage by model", "breakdown by ai model")
# "claude-sonnet-4.5   35.2k in, 310 out, 22.4k cached (Est. 3 Premium requests)" or
# "gpt-5   12.3k input, 456 output, 0 cache read, 0 cache write (Est. 1 Premium request)".
MODEL_USAGE = re.compile(
    r"^\s*(?P<model>[\w.\-/]+)\s+(?P<input>[\d.,]+[km]?)\s+in(?:put)?,\s*(?P<output>[\d.,]+[km]?)\s+out(?:put)?",
    re.IGNORECASE,
)


class CopilotAdapter(AdapterDefaults):
    name = "copilot"
    default_binary = "copilot"

    def __init__(self) -> None:
        self._answer: list[str] = []
        self._in_stats = False
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None

    def build_command(self, ctx: AgentContext) -> list[str]:
        argv = [ctx.binary, "-p", ctx.prompt, "--allow-all-tools"]
        if ctx.model:
            argv += ["--model", ctx.model]
        if ctx.resume_session_id:
            argv += ["--resume", ctx.resume_session_id]
        return argv

    def parse_line(self, line: str) -> ParsedLine:
        plain = strip_ansi(line).rstrip()
        stripped = plain.strip()
        if not stripped:
            return ParsedLine()
        lowered = stripped.lower()
        if self._in_stats or lowered.startswith(STATS_HEADINGS):
            self._in_stats = True
            return self._stats(plain)
        if stripped.startswith(TOOL_STARTS):
            self._answer.clear()
            return ParsedLine(logs=[log_line("tool_use", stripped.lstrip("".join(TOOL_STARTS)).strip())])
        if stripped.startswith(TOOL_FAILED):
            self._answer.clear()
            return ParsedLine(logs=[log_line("error", stripped.lstrip(TOOL_FAILED).strip())])
        if stripped.startswith(TOOL_OUTPUT):
            return ParsedLine(logs=[log_line("tool_result", stripped.lstrip("".join(TOOL_OUTPUT)).strip())])
        # Prose after the last tool call is the agent's answer.
        self._answer.append(stripped)
        return ParsedLine(logs=[log_line("text", plain)], auth_failure=matching(plain, AUTH_MARKERS))

    def finish(self, exit_code: int, collected: Collected) -> AgentResult:
        answer = "\n".join(self._answer).strip()
        common: dict[str, Any] = {
            "model": collected.model,
            "summary": truncate(answer, MAX_SUMMARY) if answer else None,
            "input_tokens": self._input_tokens,
            "output_tokens": self._output_tokens,
        }
        return verdict(exit_code, collected, common, auth_markers=AUTH_MARKERS,
                       key_hint="the agent's token secret (COPILOT_GITHUB_TOKEN or GH_TOKEN)")

    def _stats(self, line: str) -> ParsedLine:
        usage = MODEL_USAGE.match(line)
        if usage is None:
            return ParsedLine(logs=[log_line("system", line.strip())])
        self._input_tokens = (self._input_tokens or 0) + _tokens(usage["input"])
        self._output_tokens = (self._output_tokens or 0) + _tokens(usage["output"])
        return ParsedLine(logs=[log_line("system", line.strip())], model=usage["model"])


def _tokens(shown: str) -> int:
    """'35.2k' -> 35200; the summary rounds, so this is as exact as Copilot says."""
    value = shown.replace(",", "").lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(value[-1], 1)
    return round(float(value.rstrip("km")) * scale)
