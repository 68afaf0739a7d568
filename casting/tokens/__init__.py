"""Where tokens come from: `jwks` (the issuer's key set, fetched and cached), `local_issuer` (development's
own issuer) and `roles` (the roles and their permissions, the one table of them). Verification itself and
`requires_auth` are the root's auth.py."""
