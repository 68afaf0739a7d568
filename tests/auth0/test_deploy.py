"""`make auth0` (auth0/deploy.js, Auth0's Deploy CLI from package-lock.json) against a stand-in tenant
(tests/auth0/stand_in.py): it applies the tenant file, deploys the post-login Action and binds it after the Actions
the tenant already runs at login, leaves the rest of the tenant alone, creates nothing the second time and repairs a
role changed by hand; docs/auth0.md asks for every Management API scope it uses."""

from __future__ import annotations

import re

import pytest

from casting.tokens.roles import ROLE_LABELS, ROLE_PERMISSIONS
from tests.auth0.stand_in import (
    AUDIENCE,
    CLAIMS_ACTION,
    CLAIMS_CODE,
    DASHBOARD,
    DEPLOY_CLIENT_ID,
    DEPLOY_CLIENT_SECRET,
    DOCS,
    LOCAL_DASHBOARD,
    OTHER_ACTION,
    Deploy,
    StandInTenant,
    all_permissions,
)


@pytest.fixture(scope="module")
def first_deploy(deploy_cli, tenant) -> Deploy:
    """`make auth0` on a tenant that holds only what any tenant holds, and another app of the agency."""
    return Deploy(tenant)


@pytest.fixture(scope="module")
def second_deploy(first_deploy, tenant) -> Deploy:
    """`make auth0` again, after someone gave the Casting Assistant role a producer's permission by hand."""
    assistant = tenant.named("roles", "Casting Assistant")["id"]
    tenant.role_permissions[assistant] = [{"permission_name": "delete:movies", "resource_server_identifier": AUDIENCE}]
    return Deploy(tenant)


def assert_tenant_holds_the_app(tenant: StandInTenant) -> None:
    api = tenant.named("resource_servers", "Casting Agency API")
    assert api["identifier"] == AUDIENCE
    assert api["enforce_policies"] is True and api["token_dialect"] == "access_token_authz"
    assert sorted(scope["value"] for scope in api["scopes"]) == sorted(all_permissions())
    for role, held in ROLE_PERMISSIONS.items():
        granted = tenant.role_permissions[tenant.named("roles", ROLE_LABELS[role])["id"]]
        assert sorted(p["permission_name"] for p in granted) == sorted(held), role
        assert {p["resource_server_identifier"] for p in granted} == {AUDIENCE}
    spa = tenant.named("clients", "Casting Agency Dashboard")
    assert spa["app_type"] == "spa" and spa["token_endpoint_auth_method"] == "none"
    assert spa["callbacks"] == spa["allowed_logout_urls"] == [f"{DASHBOARD}/", f"{LOCAL_DASHBOARD}/"]
    assert spa["web_origins"] == spa["allowed_origins"] == [DASHBOARD, LOCAL_DASHBOARD]
    # The claims Action, with the committed code, deployed, and run at login after the tenant's own Action.
    action = tenant.named("actions", CLAIMS_ACTION)
    code = CLAIMS_CODE.read_text().replace("##API_AUDIENCE##", AUDIENCE)  # the Deploy CLI fills in the marker
    assert action["code"] == code and AUDIENCE in code
    assert action["runtime"] == "node22"
    assert action["supported_triggers"] == [{"id": "post-login", "version": "v3"}]
    assert action["all_changes_deployed"] is True
    assert action["deployed_version"]["code"] == code
    assert tenant.bound("post-login") == [(OTHER_ACTION, OTHER_ACTION), (CLAIMS_ACTION, CLAIMS_ACTION)]
    assert {trigger: bindings for trigger, bindings in tenant.bindings.items() if bindings} == \
        {"post-login": tenant.bindings["post-login"]}


def assert_others_untouched(tenant: StandInTenant, deploy: Deploy) -> None:
    """What the file does not name is neither deleted nor changed, the deploy's own client included."""
    for kind in ("resource_servers", "roles", "clients", "actions", "action_versions"):
        for key, record in tenant.initial[kind].items():
            assert deploy.after[kind].get(key) == record, (kind, record)
    for role_id, held in tenant.initial["role_permissions"].items():
        assert deploy.after["role_permissions"][role_id] == held
    managed = {tenant.named("roles", ROLE_LABELS[role])["id"] for role in ROLE_PERMISSIONS}
    for method, path, _ in deploy.writes():
        assert method != "DELETE" or re.fullmatch(r"/api/v2/roles/([^/]+)/permissions", path).group(1) in managed


def test_make_auth0_applies_the_tenant_file(first_deploy, tenant):
    assert_tenant_holds_the_app(tenant)
    # One client-credentials token for the Management API, with the deploy client (not the app's).
    assert [c for c in first_deploy.calls if c[1] == "/oauth/token"] == [("POST", "/oauth/token", {
        "grant_type": "client_credentials", "client_id": DEPLOY_CLIENT_ID, "client_secret": DEPLOY_CLIENT_SECRET,
        "audience": f"https://{tenant.domain}/api/v2/"})]
    assert [call for call in first_deploy.calls if not call[1].startswith(("/oauth/token", "/api/v2/"))] == []
    # The output names the dashboard's client id, for the app's AUTH0_CLIENT_ID.
    spa = tenant.named("clients", "Casting Agency Dashboard")
    assert f'"client_id":"{spa["client_id"]}"' in first_deploy.result.stdout
    assert "set it as the app's AUTH0_CLIENT_ID" in first_deploy.result.stdout


def test_make_auth0_creates_deploys_then_binds_the_claims_action(first_deploy, tenant):
    action_id = tenant.named("actions", CLAIMS_ACTION)["id"]
    writes = [(method, path) for method, path, _ in first_deploy.writes() if "/actions/" in path]
    assert writes == [("POST", "/api/v2/actions/actions"), ("POST", f"/api/v2/actions/actions/{action_id}/deploy"),
                      ("PATCH", "/api/v2/actions/triggers/post-login/bindings")]
    (created,) = [body for method, path, body in first_deploy.calls if (method, path) == writes[0]]
    assert created["code"] == tenant.named("actions", CLAIMS_ACTION)["code"] and "deployed" not in created
    assert [version["number"] for version in tenant.action_versions[action_id]] == [1]


def test_make_auth0_leaves_the_rest_of_the_tenant_alone(first_deploy, second_deploy, tenant):
    assert_others_untouched(tenant, first_deploy)
    assert_others_untouched(tenant, second_deploy)


def test_make_auth0_again_creates_nothing_and_repairs_a_role_changed_by_hand(second_deploy, tenant):
    created = [call for call in second_deploy.writes() if call[0] == "POST" and call[1] in
               ("/api/v2/resource-servers", "/api/v2/roles", "/api/v2/clients")]
    assert created == []
    assert_tenant_holds_the_app(tenant)
    for kind in ("resource_servers", "roles", "clients"):
        assert second_deploy.after[kind] == second_deploy.before[kind]
    # The Action is the same, and so is what login runs; the Deploy CLI deploys it on every run all the same,
    # which Auth0 records as another version with the same code.
    action = tenant.named("actions", CLAIMS_ACTION)
    for action_id, record in second_deploy.before["actions"].items():
        unchanged = {key: value for key, value in record.items()
                     if action_id != action["id"] or key != "deployed_version"}
        assert {key: second_deploy.after["actions"][action_id][key] for key in unchanged} == unchanged
    versions = tenant.action_versions[action["id"]]
    assert [v["number"] for v in versions] == [1, 2] and versions[0]["code"] == versions[1]["code"]
    assert action["deployed_version"]["number"] == 2 and action["all_changes_deployed"] is True
    assert [(b["action"]["name"], b["display_name"]) for b in second_deploy.before["bindings"]["post-login"]] == \
        tenant.bound("post-login")


# Which Management API scope each endpoint needs (Auth0's Management API reference).
SCOPES = {
    ("GET", "resource-servers"): "read:resource_servers",
    ("POST", "resource-servers"): "create:resource_servers",
    ("PATCH", "resource-servers"): "update:resource_servers",
    ("GET", "roles"): "read:roles",
    ("POST", "roles"): "create:roles",
    ("PATCH", "roles"): "update:roles",
    ("GET", "roles/permissions"): "read:roles",
    ("POST", "roles/permissions"): "update:roles",
    ("DELETE", "roles/permissions"): "update:roles",
    ("GET", "clients"): "read:clients",
    ("POST", "clients"): "create:clients",
    ("PATCH", "clients"): "update:clients",
    ("GET", "actions/actions"): "read:actions",
    ("POST", "actions/actions"): "create:actions",
    ("PATCH", "actions/actions"): "update:actions",
    ("POST", "actions/actions/deploy"): "create:actions",
    ("GET", "actions/modules"): "read:actions",
    ("GET", "actions/triggers"): "read:triggers",
    ("GET", "actions/triggers/bindings"): "read:triggers",
    ("PATCH", "actions/triggers/bindings"): "update:triggers",
}


def endpoint(path: str) -> str:
    """/api/v2/roles/ID/permissions -> roles/permissions, /api/v2/actions/actions/ID/deploy -> actions/actions/deploy"""
    parts = path.removeprefix("/api/v2/").split("/")
    if parts[0] == "actions":
        return "/".join(parts[:2] + parts[3:])
    return parts[0] + ("/" + parts[2] if len(parts) > 2 else "")


def test_docs_ask_for_every_management_api_scope_the_deploy_uses(first_deploy, second_deploy):
    needed = set()
    for method, path, _ in first_deploy.calls + second_deploy.calls:
        if path.startswith("/api/v2/"):
            assert (method, endpoint(path)) in SCOPES, (method, path)
            needed.add(SCOPES[method, endpoint(path)])
    documented = set(re.findall(r"`((?:read|create|update|delete):[a-z_]+)`", DOCS.read_text()))
    assert needed <= documented, f"docs/auth0.md does not ask for {sorted(needed - documented)}"
    assert {"update:roles", "create:clients", "create:actions", "update:actions", "update:triggers"} <= needed
