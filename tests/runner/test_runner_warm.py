"""The warm runner's adoption: the attempt's environment is the one a launcher would have given,
less the warm runner's own variables (its token asks for any attempt of the pool: the agent must
not hold it)."""
from __future__ import annotations

from optio_runner.config import load_config
from optio_runner.warm import WARM_VARIABLES, adopted_environment

OWN = {"PATH": "/usr/bin", "OPTIO_API_URL": "http://api", "OPTIO_WARM_POD": "p1",
       "OPTIO_WARM_TOKEN": "optio_warm_abc", "OPTIO_WARM_POLL_MS": "1000", "OPTIO_WORKSPACE": "/workspace"}
ANSWER = {"assigned": True, "secrets": {"NPM_TOKEN": "npm-1"}, "network": "none",
          "environment": {"OPTIO_TASK_ID": "t1", "OPTIO_ATTEMPT": "2", "OPTIO_API_URL": "http://api",
                          "OPTIO_RUN_TOKEN": "optio_run_2_x", "OPTIO_AGENT_TYPE": "claude-code",
                          "OPTIO_PROMPT": "Write it", "OPTIO_RUN_KIND": "workflow-run"}}


def test_the_adopted_attempt_gets_its_input_secrets_and_network_and_not_the_warm_token() -> None:
    env = adopted_environment(OWN, ANSWER)
    assert not set(WARM_VARIABLES) & set(env)
    assert env["NPM_TOKEN"] == "npm-1" and env["OPTIO_AGENT_NETWORK"] == "none"
    cfg = load_config(env)
    assert (cfg.task_id, cfg.attempt, cfg.run_token, cfg.agent_offline) == ("t1", 2, "optio_run_2_x", True)
    assert "optio_warm_abc" not in cfg.child_env.values()
    assert "OPTIO_RUN_TOKEN" not in cfg.child_env


def test_the_attempt_input_wins_over_a_secret_of_the_same_name() -> None:
    env = adopted_environment(OWN, {**ANSWER, "secrets": {"OPTIO_PROMPT": "forged"}})
    assert env["OPTIO_PROMPT"] == "Write it"
