"""Auth0 as code's test double: a stand-in for an Auth0 tenant, a real HTTPS server on 127.0.0.1 (with a certificate
authority of its own that Node is told to trust) answering the token endpoint and the Management API endpoints the
Deploy CLI uses for APIs, roles, applications, Actions and trigger bindings, keeping their state, refusing payloads
with fields Auth0 does not know, permissions no API defines and bindings to Actions never deployed, and recording
every call; and one run of auth0/deploy.js against it.

A test suite must not depend on a real Auth0 tenant (nor hold its credentials)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import ssl
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from casting.tokens.roles import ROLE_PERMISSIONS
from tests.utils.environment import ROOT

TENANT_FILE = ROOT / "auth0" / "tenant.yaml"
GENERATOR = ROOT / "scripts" / "auth0_tenant.py"
DEPLOY = ROOT / "auth0" / "deploy.js"
DOCS = ROOT / "docs" / "auth0.md"
DEPLOY_CLIENT_ID = "deploy-cli-client"
DEPLOY_CLIENT_SECRET = "stand-in-secret"  # a made-up value the stand-in expects, no real secret
ACCESS_TOKEN = "stand-in-management-token"
AUDIENCE = "https://casting-agency.example/api"
DASHBOARD = "https://casting-agency.example"
CLAIMS_ACTION = "Casting Agency Claims"
CLAIMS_CODE = ROOT / "auth0" / "actions" / "casting-agency-claims" / "code.js"
# Another app's Action that the agency's tenant runs at login: `make auth0` must keep it bound.
OTHER_ACTION = "Billing Portal Claims"
LOCAL_DASHBOARD = "http://127.0.0.1:5000"


def all_permissions() -> set[str]:
    return {p for held in ROLE_PERMISSIONS.values() for p in held}


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


class Conflict(Exception):
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
ACTION_FIELDS = {"name", "supported_triggers", "code", "dependencies", "runtime", "secrets", "modules", "deploy"}
RUNTIMES = {"node18", "node22"}
# GET /api/v2/actions/triggers: the triggers an Action can be bound to, at their current version.
TRIGGERS = {"post-login": "v3", "credentials-exchange": "v2", "pre-user-registration": "v2",
            "post-user-registration": "v2", "post-change-password": "v2", "send-phone-message": "v2"}


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
        self.actions: dict[str, dict] = {}
        self.action_versions: dict[str, list[dict]] = {}
        self.bindings: dict[str, list[dict]] = {trigger: [] for trigger in TRIGGERS}
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
        other = self.create_action({"name": OTHER_ACTION, "code": "exports.onExecutePostLogin = async () => {};",
                                    "runtime": "node22", "supported_triggers": [{"id": "post-login", "version": "v3"}]})
        self.deploy_action(other["id"])
        self.bind("post-login", [{"ref": {"type": "action_name", "value": OTHER_ACTION}, "display_name": OTHER_ACTION}])
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
                                      "role_permissions": self.role_permissions, "clients": self.clients,
                                      "actions": self.actions, "action_versions": self.action_versions,
                                      "bindings": self.bindings}))

    def bound(self, trigger: str) -> list[tuple[str, str]]:
        """The Actions bound to a trigger, in the order they run: (action name, display name)."""
        return [(binding["action"]["name"], binding["display_name"]) for binding in self.bindings[trigger]]

    # --- Actions, as Auth0's Management API reference describes them ------------------------------------

    @staticmethod
    def now() -> str:
        return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def check_action(self, body: dict, required: set[str]) -> None:
        check_fields(body, ACTION_FIELDS, required)
        for trigger in body.get("supported_triggers", []):
            check_fields(trigger, {"id", "version"}, {"id"})
            if trigger["id"] not in TRIGGERS:
                raise PayloadError(f"Payload validation error: unknown trigger {trigger['id']!r}")
        if "runtime" in body and body["runtime"] not in RUNTIMES:
            raise PayloadError(f"Payload validation error: runtime must be one of {sorted(RUNTIMES)}")

    def create_action(self, body: dict) -> dict:
        self.check_action(body, {"name", "supported_triggers"})
        if any(action["name"] == body["name"] for action in self.actions.values()):
            raise Conflict(f"An action with the name {body['name']!r} already exists")
        body = dict(body)
        deploy = body.pop("deploy", False)
        stamp = self.now()
        action = self.add("actions", {"code": "", "dependencies": [], "runtime": "node22", "secrets": [], **body,
                                      "all_changes_deployed": False, "status": "built", "created_at": stamp,
                                      "updated_at": stamp, "built_at": stamp})
        self.action_versions[action["id"]] = []
        if deploy:
            self.deploy_action(action["id"])
        return action

    def deploy_action(self, action_id: str) -> dict:
        """A new immutable version of the Action's current code, the one its bindings now run."""
        action = self.actions[action_id]
        versions = self.action_versions[action_id]
        for version in versions:
            version["deployed"] = False
        stamp = self.now()
        version = {"id": uuid.uuid4().hex, "action_id": action_id, "number": len(versions) + 1, "deployed": True,
                   "status": "built", "errors": [], "built_at": stamp, "created_at": stamp, "updated_at": stamp,
                   **{key: json.loads(json.dumps(action[key]))
                      for key in ("code", "dependencies", "runtime", "secrets", "supported_triggers")},
                   "action": {key: action[key] for key in ("id", "name", "supported_triggers", "created_at",
                                                           "updated_at")} | {"all_changes_deployed": True}}
        versions.append(version)
        action["deployed_version"] = version
        action["all_changes_deployed"] = True
        return version

    def bind(self, trigger: str, bindings: list[dict]) -> list[dict]:
        """PATCH .../bindings: the trigger's list becomes exactly these, in this order."""
        result = []
        for binding in bindings:
            check_fields(binding, {"ref", "display_name", "secrets"}, {"ref"})
            check_fields(binding["ref"], {"type", "value"}, {"type", "value"})
            kind, value = binding["ref"]["type"], binding["ref"]["value"]
            if kind not in ("action_id", "action_name"):
                raise PayloadError(f"Payload validation error: ref.type {kind!r}")
            found = [a for a in self.actions.values() if a["id" if kind == "action_id" else "name"] == value]
            if not found:
                raise PayloadError(f"Bad Request: no action {kind}={value!r}")
            (action,) = found
            if trigger not in {t["id"] for t in action["supported_triggers"]}:
                raise PayloadError(f"Bad Request: the action {value!r} does not support the trigger {trigger}")
            if not action.get("deployed_version"):
                raise PayloadError(f"Bad Request: the action {value!r} must be deployed before it can be bound")
            stamp = self.now()
            result.append({"id": uuid.uuid4().hex, "trigger_id": trigger,
                           "display_name": binding.get("display_name") or action["name"],
                           "action": json.loads(json.dumps(action)), "created_at": stamp, "updated_at": stamp})
        self.bindings[trigger] = result
        return result

    def page(self, kind: str, records: list, query, default_per_page: int) -> tuple[int, dict]:
        """Auth0's paged listing of Actions and bindings: {total, page, per_page, <kind>}."""
        page = int(query.get("page", ["0"])[0])
        per_page = int(query.get("per_page", [str(default_per_page)])[0])
        return 200, {"total": len(records), "page": page, "per_page": per_page,
                     kind: records[page * per_page:(page + 1) * per_page]}

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
        except Conflict as exc:
            return 409, {"statusCode": 409, "error": "Conflict", "message": str(exc)}
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
            case "GET", ["actions", "actions"]:
                found = [a for a in self.actions.values()
                         if a["name"] == query.get("actionName", [a["name"]])[0]]
                return self.page("actions", found, query, 50)
            case "POST", ["actions", "actions"]:
                return 201, self.create_action(body)
            case "PATCH", ["actions", "actions", action_id]:
                action = self.actions[action_id]
                self.check_action(body, set())
                if "deploy" in body:
                    raise PayloadError("Payload validation error: Additional properties not allowed: ['deploy']")
                if any(action.get(key) != value for key, value in body.items()):
                    action.update(body, all_changes_deployed=False, updated_at=self.now())
                return 200, action
            case "POST", ["actions", "actions", action_id, "deploy"]:
                return 200, self.deploy_action(action_id)
            case "GET", ["actions", "modules"]:
                return self.page("modules", [], query, 50)
            case "GET", ["actions", "triggers"]:
                return 200, {"triggers": [{"id": trigger, "version": version, "status": "CURRENT",
                                           "runtimes": sorted(RUNTIMES), "default_runtime": "node22"}
                                          for trigger, version in TRIGGERS.items()]}
            case "GET", ["actions", "triggers", trigger, "bindings"]:
                return self.page("bindings", self.bindings[trigger], query, 20)
            case "PATCH", ["actions", "triggers", trigger, "bindings"]:
                check_fields(body, {"bindings"}, {"bindings"})
                self.bindings[trigger]  # noqa: B018 (a KeyError, 404, for a trigger Auth0 does not have)
                return 200, {"bindings": self.bind(trigger, body["bindings"])}
        raise KeyError(parts)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


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
