"""A user-supplied command line (`OPTIO_CUSTOM_COMMAND`), run with `sh -c` in the repo.

It gets the prompt in the environment variable OPTIO_PROMPT; its stdout becomes text log lines and
its exit code alone decides success.
"""

from __future__ import annotations

from optio_runner.agents.base import (
    AdapterDefaults,
    AgentConfigError,
    AgentContext,
    AgentResult,
    Collected,
    ParsedLine,
    describe_exit,
)
from optio_runner.loglines import log_line


class CustomAdapter(AdapterDefaults):
    name = "custom"
    default_binary = "sh"

    def build_command(self, ctx: AgentContext) -> list[str]:
        if not ctx.custom_command:
            raise AgentConfigError("agent type custom needs OPTIO_CUSTOM_COMMAND")
        return [ctx.binary, "-c", ctx.custom_command]

    def parse_line(self, line: str) -> ParsedLine:
        return ParsedLine(logs=[log_line("text", line)])

    def finish(self, exit_code: int, collected: Collected) -> AgentResult:
        if exit_code == 0:
            return AgentResult(success=True)
        return AgentResult(success=False, error=describe_exit(exit_code, collected), error_kind="agent_error")
