"""A browser for `optio login --browser` in tests and README examples: set as `BROWSER` (Python's
`webbrowser` runs it with the URL to open), it signs in at the local OIDC provider as
`$OIDC_LOGIN` and follows the redirects back to the CLI's loopback port."""
from __future__ import annotations

import os
import sys

import requests

from tests.fakes.oidc_provider import sign_in_at


def main() -> None:
    landed = sign_in_at(requests.Session(), sys.argv[1], os.environ["OIDC_LOGIN"])
    sys.exit(0 if landed.status_code == 200 else 1)


if __name__ == "__main__":
    main()
