"""The runner's and the watcher's images as the stack references them (optio_infra.stack.Images):
by digest when infra/deploy.sh gives the pushed tag's, by tag without (the tests' synth, a stage's
first deploy)."""
from __future__ import annotations

import sys

import pytest

from .conftest import INFRA

sys.path.append(str(INFRA))
from optio_infra.stack import Images  # noqa: E402

RUNNER = "sha256:" + "ab" * 32
URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/optio-prod-runner"


def test_an_image_is_pulled_by_digest_when_the_deploy_gives_one() -> None:
    images = Images.from_context({"imageTag": "0a1b2c3d4e5f", "runnerImageDigest": RUNNER}.get)
    assert images.runner(URI) == f"{URI}@{RUNNER}"
    assert images.watcher(URI) == f"{URI}:0a1b2c3d4e5f"  # no digest given for it: its tag
    assert Images.from_context({}.get).runner(URI) == f"{URI}:latest"


@pytest.mark.parametrize("digest", ["latest", "sha256:abc", "sha512:" + "ab" * 32])
def test_anything_but_a_digest_is_refused(digest: str) -> None:
    with pytest.raises(ValueError, match="runnerImageDigest"):
        Images.from_context({"runnerImageDigest": digest}.get)
