"""Who a token says its bearer is, beyond its subject: the name and email that the Auth0 post-login Action
(auth0/actions/) adds as namespaced claims, and that development's local issuer adds for the name chosen at
sign-in. The history keeps them with each change; a token without them, or with values that break the text
rules, is simply named by its subject."""

from __future__ import annotations

import re

from casting.schemas.text import subject_problem
from models import EDITOR_EMAIL_MAX, EDITOR_NAME_MAX

# Auth0 wants custom claims namespaced by a URL of one's own (it need not resolve).
NAMESPACE = "https://casting-agency/"
NAME = NAMESPACE + "name"
EMAIL = NAMESPACE + "email"
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")


def editor(claims: dict) -> tuple[str | None, str | None]:
    """The token's name and email claims, each None when absent or not fit to be shown."""
    name, email = claims.get(NAME), claims.get(EMAIL)
    if not isinstance(name, str) or len(name) > EDITOR_NAME_MAX or subject_problem(name.strip()):
        name = None
    if not isinstance(email, str) or len(email) > EDITOR_EMAIL_MAX or not _EMAIL.fullmatch(email) \
            or subject_problem(email):
        email = None
    return (name.strip() if name else None), email
