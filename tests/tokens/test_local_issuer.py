"""Development's local issuer (casting/tokens/local_issuer.py): its tokens and tokens minted by hand pass the
same verifier, `flask token` prints one the API accepts and refuses to run in production, and its key file is
private and reused."""


from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import jwt
import pytest

from casting.tokens import local_issuer
from tests.utils.environment import AUTH_ENV, ROOT
from tests.utils.tokens import (
    CONTRACT,
    ROLES,
    bearer,
    pem,
)

JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def test_local_issuer_tokens_and_independent_tokens_agree(client, issuer, minter):
    """LocalIssuer.mint and the hand-built tokens are interchangeable: both pass the same verifier."""
    for token in (issuer.mint("casting-assistant"), minter.token("casting-assistant")):
        assert client.get("/actors", headers=bearer(token)).status_code == 200
        assert client.post("/actors", headers=bearer(token), json={}).status_code == 403


# --- the `flask token` command ---------------------------------------------------------------


def flask_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def cli_env(signing_key, database_url) -> dict:
    """The environment of a developer's shell: the test key and database, development mode, no Auth0 settings."""
    env = {name: value for name, value in os.environ.items() if name not in AUTH_ENV}
    env.update(LOCAL_ISSUER_PRIVATE_KEY=pem(signing_key), DATABASE_URL=database_url, APP_ENV="development")
    return env


@pytest.mark.parametrize("name,value", [("APP_ENV", "production"), ("DYNO", "web.1")])
def test_token_command_refuses_to_run_in_production(cli_env, name, value):
    result = flask_cli("token", "casting-director", env={**cli_env, name: value})
    assert result.returncode != 0
    assert result.stdout == "", "no token may be printed in production"
    assert "AUTH0_DOMAIN and API_AUDIENCE" in result.stderr
    assert "local token issuer never runs in production" in result.stderr



@pytest.mark.parametrize("role", ROLES)
def test_token_command_prints_one_jwt_that_the_api_accepts(client, cli_env, signing_key, issuer, role):
    result = flask_cli("token", role, env=cli_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and result.stdout == lines[0] + "\n", result.stdout
    token = lines[0]
    assert JWT_SHAPE.fullmatch(token)

    claims = jwt.decode(token, signing_key.public_key(), algorithms=["RS256"], audience=issuer.audience,
                        issuer=issuer.issuer)
    assert set(claims["permissions"]) == CONTRACT[role]
    assert jwt.get_unverified_header(token)["kid"] == issuer.kid
    assert client.get("/movies", headers=bearer(token)).status_code == 200
    can_post_actors = "post:actors" in CONTRACT[role]
    response = client.post("/actors", headers=bearer(token), json={"name": "CLI", "age": 1, "gender": "x"})
    assert response.status_code == (201 if can_post_actors else 403)


def test_token_command_expires_in(cli_env):
    result = flask_cli("token", "casting-assistant", "--expires-in", "60", env=cli_env)
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60


@pytest.mark.parametrize("args", [["token", "casting-intern"], ["token"], ["token", "casting-director",
                                                                            "--expires-in", "0"]],
                         ids=["unknown-role", "no-role", "zero-lifetime"])
def test_token_command_rejects_bad_arguments(cli_env, args):
    result = flask_cli(*args, env=cli_env)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Error" in result.stderr


def test_token_command_mints_nothing_the_app_would_refuse(cli_env):
    env = {**cli_env, "TOKEN_MAX_LIFETIME_SECONDS": "3600"}
    assert flask_cli("token", "casting-director", "--expires-in", "3600", env=env).returncode == 0
    refused = flask_cli("token", "casting-director", "--expires-in", "3601", env=env)
    assert refused.returncode != 0 and refused.stdout == "" and "3601 is not in the range" in refused.stderr


# --- the local issuer's key file -------------------------------------------------------------


def test_local_issuer_key_file_is_private_and_reused(tmp_path):
    instance = tmp_path / "instance"
    first = local_issuer.LocalIssuer.from_instance(str(instance), "aud")
    key_file = instance / local_issuer.LOCAL_KEY_FILE
    assert key_file.name == "local-issuer-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = local_issuer.LocalIssuer.from_instance(str(instance), "aud")
    assert second.kid == first.kid and second.audience == "aud"
    assert sorted(p.name for p in instance.iterdir()) == ["local-issuer-key.pem"], "a temporary file was left"
    # The key really is the same: a token of one verifies with the other's JWKS.
    token = first.mint("casting-assistant")
    public = jwt.PyJWK(second.jwks()["keys"][0])
    assert jwt.decode(token, public, algorithms=["RS256"], audience="aud")["sub"] == "local|casting-assistant"
