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
