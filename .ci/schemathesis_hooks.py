"""schemathesis hooks for .ci/api-checks.sh (loaded by `hooks` in schemathesis.toml and
schemathesis-limited.toml): an import's NDJSON body (POST /imports, application/x-ndjson) is text, sent as it
is; schemathesis serializes text/* bodies by itself, not this one."""

import schemathesis

schemathesis.serializer.alias("application/x-ndjson", "text/plain")

