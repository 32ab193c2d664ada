"""Fault: the schedule tick does not run for five minutes (the engine was down, EventBridge
held its invocations back), then runs again, twice at once (the late tick and the first live one),
and the held-back ticks come late after it. Each schedule due in the gap fires once, not once per
missed slot and not once per tick; one not due does not fire; then the schedules go on at their
own pace. The tick is given `now`, the moment EventBridge invoked it."""
from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.gitrepo import make_bare_repo

pytestmark = pytest.mark.xdist_group("in-process")

# Before any fire time the session's other tests store (their own fixed clocks, or today's), so
# this test's ticks find only its schedules due.
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="module", autouse=True)
def tables() -> None:
    from chalicelib.store.tables import create_all

    create_all()


def test_missed_ticks(tmp_path: Path) -> None:
    from chalicelib.core.states import State, can_transition
    from chalicelib.core.timefmt import iso
    from chalicelib.services import configs as config_actions
    from chalicelib.services import triggers as trigger_actions
    from chalicelib.services.repos import register_repo
    from chalicelib.store import executions, triggers

    repo = register_repo({"repoUrl": str(make_bare_repo(tmp_path, f"ticks-{uuid.uuid4().hex[:6]}.git"))})
    # cron -> its next fire time as the last tick before the gap (at T0) left it.
    schedules = {
        "* * * * *": T0 + MINUTE,
        "*/2 * * * *": T0 + 2 * MINUTE,
        "*/5 * * * *": T0 + 5 * MINUTE,
        "3 8 * * *": T0 + 3 * MINUTE,
        "0 9 * * *": T0 + 60 * MINUTE,
    }
    made: dict[str, tuple[str, str]] = {}
    for cron, next_fire in schedules.items():
        config = config_actions.create_blueprint({"type": "repo-blueprint", "name": f"tick {cron}",
                                                  "prompt": "p", "repoId": repo.id})
        trigger = trigger_actions.create_trigger(config, {"type": "schedule", "config": {"cronExpression": cron}})
        triggers.update(trigger, {"nextFireAt": iso(next_fire)}, T0)
        made[cron] = (config.id, trigger.id)

    def firings() -> dict[str, list[str]]:
        return {cron: sorted(run.metadata["trigger"]["dueAt"] for run in executions.of_config(config_id, 200, None).items)
                for cron, (config_id, _) in made.items()}

    def next_fires() -> dict[str, str]:
        return {cron: str(triggers.get(trigger_id).nextFireAt) for cron, (_, trigger_id) in made.items()}

    try:
        # Five minutes without a tick; then the late one and the live one run at once.
        catch_up = T0 + 5 * MINUTE + timedelta(seconds=10)
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def tick(now: datetime) -> None:
            start.wait()
            try:
                trigger_actions.tick(now)
            except BaseException as error:
                errors.append(error)

        ticks = [threading.Thread(target=tick, args=(catch_up,)),
                 threading.Thread(target=tick, args=(catch_up + timedelta(seconds=2),))]
        for thread in ticks:
            thread.start()
        for thread in ticks:
            thread.join()
        assert errors == []
        # Once each, for the first slot it missed; the one not yet due, not at all.
        assert firings() == {
            "* * * * *": [iso(T0 + MINUTE)],
            "*/2 * * * *": [iso(T0 + 2 * MINUTE)],
            "*/5 * * * *": [iso(T0 + 5 * MINUTE)],
            "3 8 * * *": [iso(T0 + 3 * MINUTE)],
            "0 9 * * *": [],
        }
        # Each goes on from now, not from the slots it missed.
        expected_next = {
            "* * * * *": iso(T0 + 6 * MINUTE),
            "*/2 * * * *": iso(T0 + 6 * MINUTE),
            "*/5 * * * *": iso(T0 + 10 * MINUTE),
            "3 8 * * *": iso(T0 + timedelta(days=1, minutes=3)),
            "0 9 * * *": iso(T0 + 60 * MINUTE),
        }
        assert next_fires() == expected_next

        # The held-back ticks arrive late, each with the moment it was meant for: nothing more fires.
        for minute in range(1, 6):
            trigger_actions.tick(T0 + minute * MINUTE)
        trigger_actions.tick(catch_up)
        assert [len(due) for due in firings().values()] == [1, 1, 1, 1, 0]
        assert next_fires() == expected_next

        # Live again: the next minute's tick fires what is due then, once.
        trigger_actions.tick(T0 + 6 * MINUTE + timedelta(seconds=5))
        trigger_actions.tick(T0 + 6 * MINUTE + timedelta(seconds=40))
        assert [len(due) for due in firings().values()] == [2, 2, 1, 1, 0]
        assert firings()["* * * * *"] == [iso(T0 + MINUTE), iso(T0 + 6 * MINUTE)]
    finally:
        # Nothing of this test for a later test's engine to run: no schedule, no queued run.
        for config_id, _ in made.values():
            trigger_actions.delete_all(config_id)
            for run in executions.of_config(config_id, 200, None).items:
                if can_transition(executions.kind_of(run), State(run.state), State.CANCELLED):
                    executions.transition(run, State.CANCELLED, trigger="test", message="put away",
                                          now=datetime.now(UTC))
