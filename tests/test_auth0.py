"""Auth0 as code: auth0/tenant.yaml holds exactly the app's roles and permissions, and `make auth0` applies it.

A test suite must not depend on a real Auth0 tenant (nor hold its credentials), so the deploy (auth0/deploy.js,
Auth0's Deploy CLI from package-lock.json) runs against a stand-in for a tenant: a real HTTPS server on 127.0.0.1
answering the token endpoint and the Management API endpoints the Deploy CLI uses for APIs, roles and
applications, keeping their state, refusing payloads with fields Auth0 does not know and permissions no API
defines, and recording every call.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import ipaddress
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from roles import ROLE_LABELS, ROLE_PERMISSIONS
from tests.helpers import ROOT, free_port

TENANT_FILE = ROOT / "auth0" / "tenant.yaml"
GENERATOR = ROOT / "scripts" / "auth0_tenant.py"
DEPLOY = ROOT / "auth0" / "deploy.js"
DOCS = ROOT / "docs" / "auth0.md"
DEPLOY_CLIENT_ID = "deploy-cli-client"
DEPLOY_CLIENT_SECRET = "stand-in-secret"  # a made-up value the stand-in expects, no real secret
ACCESS_TOKEN = "stand-in-management-token"
AUDIENCE = "https://casting-agency.example/api"
DASHBOARD = "https://casting-agency.example"
LOCAL_DASHBOARD = "http://127.0.0.1:5000"


def all_permissions() -> set[str]:
    return {p for held in ROLE_PERMISSIONS.values() for p in held}


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


# --- make auth0: the deploy against a stand-in tenant ----------------------------------------------------


def certificate_authority(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for 127.0.0.1 signed by it: (CA file, certificate, key)."""
    now = dt.datetime.now(dt.UTC)

    def build(subject: str, issuer: str, public_key, signing_key, ca: bool):
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=2))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False), critical=True)
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("stand-in tenant CA", "stand-in tenant CA", ca_key.public_key(), ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build("127.0.0.1", "stand-in tenant CA", key.public_key(), ca_key, ca=False)
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class PayloadError(Exception):
    pass


# The fields of the Management API's create and update payloads that the stand-in accepts; Auth0 answers
# "Payload validation error" for others, as the stand-in does.
RESOURCE_SERVER_FIELDS = {"name", "identifier", "scopes", "signing_alg", "allow_offline_access", "token_lifetime",
                          "token_lifetime_for_web", "skip_consent_for_verifiable_first_party_clients",
                          "enforce_policies", "token_dialect"}
ROLE_FIELDS = {"name", "description"}
CLIENT_FIELDS = {"name", "description", "app_type", "token_endpoint_auth_method", "grant_types", "oidc_conformant",
                 "is_first_party", "cross_origin_authentication", "jwt_configuration", "callbacks",
                 "allowed_logout_urls", "web_origins", "allowed_origins"}


def check_fields(body: dict, allowed: set[str], required: set[str] = frozenset()) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise PayloadError(f"Payload validation error: Additional properties not allowed: {sorted(unknown)}")
    if required - set(body):
        raise PayloadError(f"Payload validation error: Missing required properties: {sorted(required - set(body))}")


class StandInTenant:
    """A tenant's token endpoint and Management API (APIs, roles and their permissions, applications)."""

    def __init__(self, directory: Path):
        ca_file, cert, key = certificate_authority(directory)
        self.ca_file = ca_file
        self.calls: list[tuple[str, str, object]] = []
        self.lock = threading.Lock()
        self.resource_servers: dict[str, dict] = {}
        self.roles: dict[str, dict] = {}
        self.role_permissions: dict[str, list[dict]] = {}
        self.clients: dict[str, dict] = {}
        tenant = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                self.answer("GET")

            def do_POST(self):  # noqa: N802
                self.answer("POST")

            def do_PATCH(self):  # noqa: N802
                self.answer("PATCH")

            def do_DELETE(self):  # noqa: N802
                self.answer("DELETE")

            def answer(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                else:
                    body = json.loads(raw) if raw else None
                with tenant.lock:
                    tenant.calls.append((method, url.path, body))
                    status, document = tenant.handle(method, url.path, parse_qs(url.query), body,
                                                     self.headers.get("Authorization"))
                payload = b"" if document is None else json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.domain = f"127.0.0.1:{self.httpd.server_address[1]}"
        # What any tenant has, and what an agency's tenant may hold besides this app: none of it is the file's.
        self.add("resource_servers", {"name": "Auth0 Management API", "identifier": f"https://{self.domain}/api/v2/",
                                      "is_system": True, "scopes": [{"value": "read:clients"}]})
        self.add("resource_servers", {"name": "Billing API", "identifier": "https://billing.example",
                                      "scopes": [{"value": "read:invoices", "description": "Read invoices"}]})
        auditor = self.add("roles", {"name": "Auditor", "description": "Reads invoices"})
        self.role_permissions[auditor["id"]] = [{"permission_name": "read:invoices",
                                                 "resource_server_identifier": "https://billing.example"}]
        self.add("clients", {"client_id": DEPLOY_CLIENT_ID, "name": "Deploy CLI", "app_type": "non_interactive"})
        self.add("clients", {"name": "Billing Portal", "app_type": "spa", "callbacks": ["https://billing.example/"]})
        self.initial = self.snapshot()
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def add(self, kind: str, record: dict) -> dict:
        store = getattr(self, kind)
        key = "client_id" if kind == "clients" else "id"
        record = {key: record.get(key) or f"{kind}-{uuid.uuid4().hex[:12]}", **record}
        store[record[key]] = record
        return record

    def snapshot(self) -> dict:
        return json.loads(json.dumps({"resource_servers": self.resource_servers, "roles": self.roles,
                                      "role_permissions": self.role_permissions, "clients": self.clients}))

    def named(self, kind: str, name: str) -> dict:
        (record,) = [r for r in getattr(self, kind).values() if r["name"] == name]
        return record

    def handle(self, method, path, query, body, authorization):
        if path == "/oauth/token" and method == "POST":
            expected = {"grant_type": "client_credentials", "client_id": DEPLOY_CLIENT_ID,
                        "client_secret": DEPLOY_CLIENT_SECRET, "audience": f"https://{self.domain}/api/v2/"}
            if {k: (body or {}).get(k) for k in expected} != expected:
                return 401, {"error": "access_denied", "error_description": "Unauthorized"}
            return 200, {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 86400}
        if authorization != f"Bearer {ACCESS_TOKEN}":
            return 401, {"statusCode": 401, "error": "Unauthorized", "message": "Missing or bad token"}
        parts = path.removeprefix("/api/v2/").split("/")
        try:
            return self.route(method, parts, query, body or {})
        except PayloadError as exc:
            return 400, {"statusCode": 400, "error": "Bad Request", "message": str(exc)}
        except KeyError:
            return 404, {"statusCode": 404, "error": "Not Found", "message": f"no {path}"}

    def listing(self, kind: str, records: list, query) -> tuple[int, object]:
        if query.get("include_totals") == ["true"]:
            return 200, {kind: records, "start": 0, "limit": len(records), "total": len(records)}
        return 200, records

    def route(self, method, parts, query, body):
        match method, parts:
            case "GET", ["resource-servers"]:
                return self.listing("resource_servers", list(self.resource_servers.values()), query)
            case "POST", ["resource-servers"]:
                check_fields(body, RESOURCE_SERVER_FIELDS, {"identifier"})
                for scope in body.get("scopes", []):
                    check_fields(scope, {"value", "description"}, {"value"})
                return 201, self.add("resource_servers", body)
            case "PATCH", ["resource-servers", rs_id]:
                check_fields(body, RESOURCE_SERVER_FIELDS - {"identifier"})
                for scope in body.get("scopes", []):
                    check_fields(scope, {"value", "description"}, {"value"})
                self.resource_servers[rs_id].update(body)
                return 200, self.resource_servers[rs_id]
            case "GET", ["roles"]:
                return self.listing("roles", list(self.roles.values()), query)
            case "POST", ["roles"]:
                check_fields(body, ROLE_FIELDS, {"name"})
                role = self.add("roles", body)
                self.role_permissions[role["id"]] = []
                return 200, role
            case "PATCH", ["roles", role_id]:
                check_fields(body, ROLE_FIELDS)
                self.roles[role_id].update(body)
                return 200, self.roles[role_id]
            case "GET", ["roles", role_id, "permissions"]:
                return self.listing("permissions", self.role_permissions[role_id], query)
            case ("POST" | "DELETE") as verb, ["roles", role_id, "permissions"]:
                held = self.role_permissions[role_id]
                check_fields(body, {"permissions"}, {"permissions"})
                for permission in body["permissions"]:
                    check_fields(permission, {"permission_name", "resource_server_identifier"},
                                 {"permission_name", "resource_server_identifier"})
                    if verb == "POST":
                        defined = {(rs["identifier"], s["value"]) for rs in self.resource_servers.values()
                                   for s in rs.get("scopes", [])}
                        key = (permission["resource_server_identifier"], permission["permission_name"])
                        if key not in defined:
                            raise PayloadError(f"Bad Request: the permission {key} is not defined by an API")
                        if permission not in held:
                            held.append(permission)
                    elif permission in held:
                        held.remove(permission)
                return (201 if verb == "POST" else 204), None
            case "GET", ["clients"]:
                return self.listing("clients", list(self.clients.values()), query)
            case "POST", ["clients"]:
                check_fields(body, CLIENT_FIELDS, {"name"})
                return 201, self.add("clients", body)
            case "PATCH", ["clients", client_id]:
                check_fields(body, CLIENT_FIELDS)
                self.clients[client_id].update(body)
                return 200, self.clients[client_id]
        raise KeyError(parts)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


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


def run_deploy(tenant: StandInTenant, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    env.update({
        "NODE_EXTRA_CA_CERTS": str(tenant.ca_file),
        # The app's own setting, the dashboard's client id: the deploy must not take it for its own.
        "AUTH0_CLIENT_ID": "the-apps-dashboard-client-id",
        "AUTH0_DOMAIN": tenant.domain, "AUTH0_DEPLOY_CLIENT_ID": DEPLOY_CLIENT_ID,
        "AUTH0_DEPLOY_CLIENT_SECRET": DEPLOY_CLIENT_SECRET, "API_AUDIENCE": AUDIENCE,
        "DASHBOARD_URLS": f"{DASHBOARD}, {LOCAL_DASHBOARD}/",
    })
    env.update(settings)
    # The Deploy CLI compiles its JSON schema (8 MB) twice per run: about 10 s each on a busy machine.
    return subprocess.run(["node", DEPLOY, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


class Deploy:
    """One run of auth0/deploy.js and the calls it made."""

    def __init__(self, tenant: StandInTenant, *args: str):
        tenant.calls.clear()
        self.before = tenant.snapshot()
        self.result = run_deploy(tenant, *args)
        self.calls = list(tenant.calls)
        self.after = tenant.snapshot()
        assert self.result.returncode == 0, self.result.stdout + self.result.stderr

    def writes(self) -> list[tuple[str, str, object]]:
        return [call for call in self.calls if call[0] != "GET" and call[1] != "/oauth/token"]


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


def assert_others_untouched(tenant: StandInTenant, deploy: Deploy) -> None:
    """What the file does not name is neither deleted nor changed, the deploy's own client included."""
    for kind in ("resource_servers", "roles", "clients"):
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
}


def test_docs_ask_for_every_management_api_scope_the_deploy_uses(first_deploy, second_deploy):
    needed = set()
    for method, path, _ in first_deploy.calls + second_deploy.calls:
        if path.startswith("/api/v2/"):
            parts = path.removeprefix("/api/v2/").split("/")
            endpoint = parts[0] + ("/" + parts[2] if len(parts) > 2 else "")
            assert (method, endpoint) in SCOPES, (method, path)
            needed.add(SCOPES[method, endpoint])
    documented = set(re.findall(r"`((?:read|create|update|delete):[a-z_]+)`", DOCS.read_text()))
    assert needed <= documented, f"docs/auth0.md does not ask for {sorted(needed - documented)}"
    assert {"update:roles", "create:clients"} <= needed  # both runs were seen


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
