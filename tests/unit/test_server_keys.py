"""Optio's own keys as the settings read them (chalicelib.settings.ServerKey): one value or a
JSON array, newest first; from the variable, or from the secret `<variable>_ARN` names."""
from __future__ import annotations

import pytest

from chalicelib.settings import ServerKey, Settings, key_values


def test_a_key_is_one_value_or_an_array_newest_first() -> None:
    assert key_values("OPTIO_API_TOKEN", "tok-1") == ("tok-1",)
    assert key_values("OPTIO_API_TOKEN", " tok-1\n") == ("tok-1",)  # as a file keeps it
    assert key_values("OPTIO_API_TOKEN", '["tok-2", "tok-1"]') == ("tok-2", "tok-1")
    assert key_values("OPTIO_API_TOKEN", "") == ()


@pytest.mark.parametrize("text", ['["unclosed', "[]", '["ok", ""]', '["ok", 3]'])
def test_a_bad_array_is_refused_naming_the_variable_never_the_value(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        key_values("OPTIO_SECRETS_KEY", text)
    assert "OPTIO_SECRETS_KEY" in str(raised.value)
    assert "unclosed" not in str(raised.value) and "ok" not in str(raised.value)


def test_the_newest_signs_and_an_unset_key_says_so() -> None:
    assert ServerKey("OPTIO_RUN_TOKEN_SECRET", '["new", "old"]').newest() == "new"
    with pytest.raises(RuntimeError, match="OPTIO_RUN_TOKEN_SECRET is not set"):
        ServerKey("OPTIO_RUN_TOKEN_SECRET").newest()


def test_the_settings_take_a_key_from_its_secret_when_one_is_named() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:optio/dev/api-token-AbCdEf"
    on_aws = Settings.from_env({"OPTIO_API_TOKEN_ARN": arn, "OPTIO_KEYS_MAX_AGE_S": "60", "AWS_REGION": "eu-west-1"})
    assert on_aws.api_token == ServerKey("OPTIO_API_TOKEN", None, arn, 60, "eu-west-1")
    assert on_aws.secrets_key == ServerKey("OPTIO_SECRETS_KEY", None, None, 60, "eu-west-1")  # not named: unset
    local = Settings.from_env({"OPTIO_SECRETS_KEY": "k"})
    assert local.secrets_key.values() == ("k",) and local.secrets_key.max_age_s == 300
