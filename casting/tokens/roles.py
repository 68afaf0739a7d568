"""The staff's roles, their names, and the permissions each holds: the one table that the local issuer's
tokens, the Auth0 tenant (scripts/auth0_tenant.py), the dashboard and the tests all derive from."""

ROLE_LABELS = {
    "casting-assistant": "Casting Assistant",
    "casting-director": "Casting Director",
    "executive-producer": "Executive Producer",
}

ROLE_PERMISSIONS = {
    "casting-assistant": ["get:actors", "get:movies"],
    "casting-director": [
        "delete:actors", "get:actors", "get:history", "get:movies", "patch:actors", "patch:movies", "post:actors",
    ],
    "executive-producer": [
        "delete:actors", "delete:movies", "get:actors", "get:history", "get:movies",
        "patch:actors", "patch:movies", "post:actors", "post:movies",
    ],
}

# What PUBLIC_READS opens to requests without a token: the catalogue. The history names who changed what (token
# subjects), which even a Casting Assistant may not read, so it keeps its permission.
PUBLIC_PERMISSIONS = frozenset({"get:actors", "get:movies"})
