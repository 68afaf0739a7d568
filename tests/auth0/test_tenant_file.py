"""Auth0 as code (auth0/): auth0/tenant.yaml holds exactly the app's roles and permissions, as
scripts/auth0_tenant.py makes it from casting.tokens.roles, and a stale one is refused with what to run; it deploys
the post-login Action from its committed code and binds it to the Login flow."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest
import yaml

from casting.tokens.roles import ROLE_LABELS, ROLE_PERMISSIONS
from tests.auth0.stand_in import (
    CLAIMS_ACTION,
    CLAIMS_CODE,
    GENERATOR,
    TENANT_FILE,
    all_permissions,
)

# --- the tenant file against the app's table ------------------------------------------------------------


def test_tenant_file_is_what_the_generator_makes_from_the_apps_table():
    result = subprocess.run([sys.executable, GENERATOR, "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_stale_tenant_file_is_refused_with_what_to_run(tmp_path):
    stale = tmp_path / "tenant.yaml"
    stale.write_text(TENANT_FILE.read_text().replace("- permission_name: post:movies\n", "", 1))
    result = subprocess.run([sys.executable, GENERATOR, "--check", stale], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "run `make auth0-tenant`" in result.stderr
    assert stale.read_text() != TENANT_FILE.read_text()  # --check writes nothing


def test_tenant_file_roles_and_permissions_are_exactly_the_apps():
    """Read independently of the generator: a permission added to roles.ROLE_PERMISSIONS fails here until
    `make auth0-tenant` writes it into the file."""
    tenant = yaml.safe_load(TENANT_FILE.read_text())
    (api,) = tenant["resourceServers"]
    assert sorted(scope["value"] for scope in api["scopes"]) == sorted(all_permissions()), \
        "the API's permissions are not the app's: run `make auth0-tenant`"
    roles = {role["name"]: role for role in tenant["roles"]}
    assert {name: sorted(p["permission_name"] for p in role["permissions"]) for name, role in roles.items()} == \
        {ROLE_LABELS[role]: sorted(held) for role, held in ROLE_PERMISSIONS.items()}, \
        "the roles are not the app's: run `make auth0-tenant`"
    assert {p["resource_server_identifier"] for role in roles.values() for p in role["permissions"]} == \
        {api["identifier"]} == {"##API_AUDIENCE##"}


def test_generator_follows_the_table():
    """What another permission in the table (one for the directors and producers) does to the file."""
    spec = importlib.util.spec_from_file_location("auth0_tenant", GENERATOR)
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    table = {role: list(held) for role, held in ROLE_PERMISSIONS.items()}
    table["casting-director"].append("get:history")
    table["executive-producer"].append("get:history")
    tenant = yaml.safe_load(generator.render(table))
    assert {"value": "get:history", "description": "Read history"} in tenant["resourceServers"][0]["scopes"]
    holders = {role["name"] for role in tenant["roles"]
               if any(p["permission_name"] == "get:history" for p in role["permissions"])}
    assert holders == {"Casting Director", "Executive Producer"}
    with pytest.raises(SystemExit, match="ACTION:RESOURCE"):
        generator.render({"casting-assistant": ["read-everything"]})


def test_api_and_dashboard_settings():
    tenant = yaml.safe_load(TENANT_FILE.read_text())
    (api,) = tenant["resourceServers"]
    # RBAC, and "Add Permissions in the Access Token": the app requires the `permissions` claim.
    assert api["enforce_policies"] is True and api["token_dialect"] == "access_token_authz"
    assert api["signing_alg"] == "RS256"  # the only algorithm auth.py accepts
    (spa,) = tenant["clients"]
    assert spa["app_type"] == "spa" and spa["token_endpoint_auth_method"] == "none"
    assert spa["grant_types"] == ["authorization_code"]  # with PKCE, static/dashboard/session.js
    # Deployment-specific values are markers, all of which auth0/deploy.js fills in.
    assert set(re.findall(r"##(\w+)##|@@(\w+)@@", TENANT_FILE.read_text())) == \
        {("API_AUDIENCE", ""), ("", "DASHBOARD_URLS"), ("", "DASHBOARD_ORIGINS")}


def test_tenant_file_deploys_the_claims_action_and_binds_it_to_login():
    tenant = yaml.safe_load(TENANT_FILE.read_text())
    (action,) = tenant["actions"]
    # The Deploy CLI reads the code from beside the tenant file; the file is the one the tests run.
    assert (TENANT_FILE.parent / action["code"]).resolve() == CLAIMS_CODE
    assert action["name"] == CLAIMS_ACTION and action["deployed"] is True
    assert action["supported_triggers"] == [{"id": "post-login", "version": "v3"}]
    assert tenant["triggers"] == {"post-login": [{"action_name": CLAIMS_ACTION, "display_name": CLAIMS_ACTION}]}
