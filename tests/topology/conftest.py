"""The deployed topology (tests/topology/deployment.py), once per test session: the template
synthesised by tests/infra (one synth serves both), its functions started as AWS runs them."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.infra.conftest import Assembly, assembly  # noqa: F401 - the one synth of the session

from .deployment import Deployment
from .template import Template

STAGE = "dev"


@pytest.fixture(scope="session")
def deployed(assembly: Assembly, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:  # noqa: F811
    deployment = Deployment(Template(assembly.out, STAGE), tmp_path_factory.mktemp("topology"),
                            os.environ["OPTIO_DYNAMODB_ENDPOINT"])
    try:
        deployment.start()
    except BaseException:
        deployment.stop()
        raise
    yield deployment
    deployment.stop()
    # Whatever ran: a function refused by its own role's policy is a grant the code needs and the
    # derivation (infra/optio_infra/access.py) missed.
    assert deployment.dynamodb is not None
    assert deployment.dynamodb.denials == [], deployment.dynamodb.denials
