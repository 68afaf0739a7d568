"""The post-login Action auth0/actions/casting-agency-claims/code.js, run by Node.js in a small harness that stands in
for Auth0's Actions runtime: it requires the file as Auth0 does (CommonJS), with the API's identifier written in for
its marker as the Deploy CLI does, and calls exports.onExecutePostLogin with an `event` holding the user's profile
and the API the token is for, and an `api` that records what the Action asks for. What the Action puts in the
access token is then read by the app's own casting.tokens.claims, so the namespace is checked from both sides.

What the harness cannot show is Auth0's runtime itself (its sandbox, its other `event` fields, its limits on custom
claims); the deploy of this file is tests/auth0/test_deploy.py's, the history names tests/api/test_castings.py's."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from casting.tokens.claims import EMAIL, NAME, editor
from tests.auth0.stand_in import AUDIENCE, CLAIMS_CODE

# The harness: one line of JSON in (a list of users), one line out (per user, every call the Action made).
HARNESS = r"""
const action = require(process.argv[1]);
const users = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
(async () => {
  const results = [];
  for (const [user, resourceServer] of users) {
    const calls = [];
    const record = (target) => new Proxy({}, {
      get: (_, method) => (...args) => { calls.push([target, method, ...args]); },
    });
    const api = { accessToken: record('accessToken'), idToken: record('idToken'), access: record('access'),
                  user: record('user') };
    const event = { user, request: { ip: '127.0.0.1' }, client: {}, secrets: {},
                    ...(resourceServer ? { resource_server: { identifier: resourceServer } } : {}) };
    await action.onExecutePostLogin(event, api);
    results.push(calls);
  }
  console.log(JSON.stringify(results));
})().catch((error) => { console.error(error); process.exit(1); });
"""

DANA = {"user_id": "auth0|64f1", "name": "Dana Whitfield", "email": "dana@agency.example", "email_verified": True}
CASES = {
    "name and verified email": (DANA, {NAME: "Dana Whitfield", EMAIL: "dana@agency.example"}),
    "unverified email": ({**DANA, "email_verified": False}, {NAME: "Dana Whitfield"}),
    "email_verified missing": ({k: v for k, v in DANA.items() if k != "email_verified"}, {NAME: "Dana Whitfield"}),
    "no email": ({"user_id": "google-oauth2|1", "name": "Sam Ortiz"}, {NAME: "Sam Ortiz"}),
    "no name": ({k: v for k, v in DANA.items() if k != "name"}, {EMAIL: "dana@agency.example"}),
    "name padded": ({**DANA, "name": "  Dana Whitfield "}, {NAME: "Dana Whitfield", EMAIL: "dana@agency.example"}),
    "blank name": ({"user_id": "auth0|2", "name": "   "}, {}),
    "nothing": ({"user_id": "auth0|3"}, {}),
}
# Tokens for the tenant's other APIs, or for no API (an ID token alone), get nothing.
OTHER_AUDIENCES = {"another API": "https://billing.example", "no API": None}


@pytest.fixture(scope="module")
def claims_set(node, tmp_path_factory) -> dict[str, list]:
    """Every call the Action made, per case (and per other audience, for Dana)."""
    deployed = tmp_path_factory.mktemp("action") / "code.js"
    deployed.write_text(CLAIMS_CODE.read_text().replace("##API_AUDIENCE##", AUDIENCE))
    events = [[user, AUDIENCE] for user, _ in CASES.values()] + [[DANA, api] for api in OTHER_AUDIENCES.values()]
    result = subprocess.run([node, "-e", HARNESS, str(deployed)], input=json.dumps(events),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return dict(zip([*CASES, *OTHER_AUDIENCES], json.loads(result.stdout), strict=True))


@pytest.mark.parametrize("case", CASES)
def test_the_action_adds_the_claims_the_profile_has(claims_set, case):
    calls = claims_set[case]
    # Only access-token claims: nothing denied, nothing in the ID token, nothing written to the user.
    assert {tuple(call[:2]) for call in calls} <= {("accessToken", "setCustomClaim")}
    assert {claim: value for _, _, claim, value in calls} == CASES[case][1]
    assert len(calls) == len(CASES[case][1])


@pytest.mark.parametrize(("case", "named"), [
    ("name and verified email", ("Dana Whitfield", "dana@agency.example")),
    ("unverified email", ("Dana Whitfield", None)),
    ("no name", (None, "dana@agency.example")),
    ("nothing", (None, None)),  # the history names the token's subject
])
def test_the_app_reads_what_the_action_adds(claims_set, case, named):
    token_claims = {"sub": CASES[case][0]["user_id"], **{claim: value for _, _, claim, value in claims_set[case]}}
    assert editor(token_claims) == named


@pytest.mark.parametrize("audience", OTHER_AUDIENCES)
def test_tokens_for_other_apis_are_not_told_who_the_user_is(claims_set, audience):
    assert claims_set[audience] == []


def test_the_action_and_the_app_share_one_namespace():
    assert f"const NAMESPACE = '{NAME.removesuffix('name')}';" in CLAIMS_CODE.read_text()
    assert NAME.removesuffix("name") + "email" == EMAIL
    # The one marker in the code, which auth0/deploy.js fills in (and refuses when it holds a quote or backslash).
    assert re.findall(r"##\w+##|@@\w+@@", CLAIMS_CODE.read_text()) == ["##API_AUDIENCE##"]
