"""DynamoDB Local's start: a start that never answers stops the JVM and says what it saw."""
from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.local.dynamodb_local import DynamoDBLocal, DynamoDBLocalError
from tests.conftest import REPO_ROOT


def test_a_start_that_does_not_answer_in_time_says_what_it_saw(tmp_path: Path) -> None:
    # No JVM answers at once: with no time at all, the first probe is the last.
    server = DynamoDBLocal(REPO_ROOT / ".deps", startup_timeout_s=0, log_path=tmp_path / "ddb.log")
    with pytest.raises(DynamoDBLocalError) as raised:
        server.start()
    message = str(raised.value)
    assert "still running) did not answer on http://127.0.0.1:" in message
    assert "1 probes, the last one failed with EndpointConnectionError" in message
    assert server.pid is None
