"""The HTTP API, one module per resource, each a blueprint: `movies`, `actors`, `history`, `health`, and
`docs` (/openapi.json and Swagger UI). Routes are thin: they parse (casting.web), call the catalogue
(casting.catalogue) and answer through `answers` (records, pages, 304s written once); `writes.safe_write`
makes each write one retrying transaction that honours Idempotency-Key."""
