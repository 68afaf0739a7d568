"""Request plumbing every route shares: `middleware` (request ids, the JSON access log, security headers,
proxies), `parsing` (bodies, queries, path ids), `ratelimit`, `conditional` (ETags, If-Match,
If-None-Match), `idempotency` (Idempotency-Key), `transactions` (the retrying write, the read connection)."""
