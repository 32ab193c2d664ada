"""Re-encrypts every stored secret under the newest secrets key: the middle step of rotating it
(README "Rotating keys"). List the new key first in `OPTIO_SECRETS_KEY` (its secret on AWS), run
this, then drop the old key. Each value is rewritten with a write conditioned on what was read,
so it is safe beside a running deployment and safe to run again:

    OPTIO_TABLE_PREFIX=optio-prod- AWS_REGION=eu-west-1 \\
        OPTIO_SECRETS_KEY_ARN=optio/prod/secrets-key python -m chalicelib.services.reencrypt

It prints the count of each outcome as JSON and exits 1 when a value is under no listed key (it
is left as it is: list the key that encrypted it, or store the value again).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from chalicelib.observability import logger
from chalicelib.settings import settings
from chalicelib.store import secrets
from chalicelib.store.models import SecretModel
from chalicelib.store.secrets import Reencrypted


def reencrypt_all() -> dict[str, int]:
    """The count of each outcome (`reencrypted`, `current`, `unreadable`, `gone`)."""
    counts: Counter[str] = Counter({outcome.value: 0 for outcome in Reencrypted})
    for stored in secrets.names():
        outcome = secrets.reencrypt(stored.name)
        counts[outcome.value] += 1
        if outcome is Reencrypted.UNREADABLE:
            # The name only: never a value, nor a key.
            logger.warning("secret under no listed key", extra={"secret": stored.name})
    return dict(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.services.reencrypt",
        description="Rewrite every stored secret of OPTIO_TABLE_PREFIX (in AWS_REGION) under the newest key "
                    "of OPTIO_SECRETS_KEY (or of the secret OPTIO_SECRETS_KEY_ARN names). Safe to run again.")
    parser.parse_args(argv)
    if not settings.secrets_key.values():
        print(f"{parser.prog}: neither OPTIO_SECRETS_KEY nor OPTIO_SECRETS_KEY_ARN is set", file=sys.stderr)
        return 2
    if not SecretModel.exists():
        print(f"{parser.prog}: {SecretModel.Meta.table_name} not found in {settings.region}: check "
              "OPTIO_TABLE_PREFIX and AWS_REGION", file=sys.stderr)
        return 2
    counts = reencrypt_all()
    print(json.dumps(counts, sort_keys=True), flush=True)
    return 1 if counts[Reencrypted.UNREADABLE.value] else 0


if __name__ == "__main__":
    sys.exit(main())
