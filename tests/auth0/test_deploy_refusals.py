"""What `make auth0` refuses before it writes anything to a tenant, and how it says so: a missing or wrong setting
(before any call), a deploy application the tenant refuses, an unreachable tenant, an invalid tenant file."""

from __future__ import annotations

import re

import pytest

from tests.auth0.stand_in import (
    TENANT_FILE,
    run_deploy,
)
from tests.utils.processes import free_port


@pytest.mark.parametrize("missing", ["AUTH0_DOMAIN", "AUTH0_DEPLOY_CLIENT_ID", "AUTH0_DEPLOY_CLIENT_SECRET",
                                     "API_AUDIENCE", "DASHBOARD_URLS"])
def test_a_missing_setting_is_refused_before_any_call(deploy_cli, tenant, missing):
    tenant.calls.clear()
    result = run_deploy(tenant, **{missing: ""})
    assert result.returncode == 2
    assert f"  {missing}: " in result.stderr and "docs/auth0.md" in result.stderr
    assert tenant.calls == []


@pytest.mark.parametrize(("settings", "message"), [
    ({"AUTH0_DOMAIN": "https://my-tenant.eu.auth0.com"}, "AUTH0_DOMAIN must be a host name"),
    ({"DASHBOARD_URLS": "http://casting-agency.example"}, "must use https"),
    ({"DASHBOARD_URLS": "https://casting-agency.example/dashboard"}, "must be the app's address alone"),
    ({"DASHBOARD_URLS": " , "}, "must name at least one address"),
    ({"API_AUDIENCE": "casting agency"}, "API_AUDIENCE must not contain spaces"),
])
def test_a_wrong_setting_is_refused_before_any_call(deploy_cli, tenant, settings, message):
    tenant.calls.clear()
    result = run_deploy(tenant, **settings)
    assert result.returncode == 2 and message in result.stderr
    assert tenant.calls == []


def test_a_refused_deploy_application_is_explained(deploy_cli, tenant):
    tenant.calls.clear()
    result = run_deploy(tenant, AUTH0_DEPLOY_CLIENT_SECRET="not-the-secret")
    assert result.returncode == 1
    assert "check AUTH0_DEPLOY_CLIENT_ID and AUTH0_DEPLOY_CLIENT_SECRET" in result.stderr
    assert [call[1] for call in tenant.calls] == ["/oauth/token"]


def test_an_unreachable_tenant_is_explained(deploy_cli, tenant):
    result = run_deploy(tenant, AUTH0_DOMAIN=f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert re.search(r"because: .*ECONNREFUSED", result.stderr), result.stderr


def test_the_deploy_cli_refuses_an_invalid_tenant_file_before_writing(deploy_cli, tenant, tmp_path):
    broken = tmp_path / "tenant.yaml"
    broken.write_text(TENANT_FILE.read_text().replace("- name: Casting Agency API", "- title: Casting Agency API"))
    tenant.calls.clear()
    result = run_deploy(tenant, str(broken))
    assert result.returncode == 1
    assert "Schema validation failed" in result.stdout + result.stderr
    assert [call for call in tenant.calls if call[0] != "GET" and call[1] != "/oauth/token"] == []
