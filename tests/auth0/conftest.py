"""Fixtures of the Auth0-as-code tests: Node.js, the Deploy CLI (npm) and a stand-in tenant for each test file."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.auth0.stand_in import (
    DEPLOY,
    StandInTenant,
)
from tests.utils.environment import ROOT


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Node.js (.ci/run installs it)")
        pytest.skip("Node.js is not installed")
    return found


@pytest.fixture(scope="module")
def deploy_cli():
    if not (shutil.which("node") and (ROOT / "node_modules" / "auth0-deploy-cli").is_dir()):
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Node.js and `npm ci` (.ci/run does both)")
        pytest.skip("Auth0's Deploy CLI is not installed: run `npm ci`")
    return DEPLOY


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    stand_in = StandInTenant(tmp_path_factory.mktemp("tenant"))
    yield stand_in
    stand_in.close()
