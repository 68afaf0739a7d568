#!/usr/bin/env bash
# Make sure Redis answers on 127.0.0.1:6379 (tests/deployment/test_shared_instances.py shares one Redis
# between two gunicorn instances there). Already answering: nothing to do. Otherwise install Debian's
# redis-server when it is missing and start it on loopback, without persistence. Under CI=true, fail if it still does not
# answer; elsewhere warn (the Redis tests then skip).
set -euo pipefail

host=127.0.0.1
port=6379

answers() {
  if command -v redis-cli >/dev/null; then
    [ "$(timeout 3 redis-cli -h "$host" -p "$port" ping 2>/dev/null)" = "PONG" ]
  else  # no redis-cli: PING over a socket
    python3 - "$host" "$port" <<'PY'
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2) as sock:
        sock.settimeout(2)
        sock.sendall(b"PING\r\n")
        sys.exit(0 if sock.recv(64).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
  fi
}

if answers; then
  echo "Redis answers on $host:$port"
  exit 0
fi

if ! command -v redis-server >/dev/null; then
  echo "installing Debian's redis-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null || true
fi
if command -v redis-server >/dev/null; then
  echo "starting redis-server on $host:$port"
  # From /: the daemon keeps its working directory, which should not be the repository.
  (cd / && redis-server --daemonize yes --bind "$host" --port "$port" --save "" --appendonly no) || true
  for _ in $(seq 1 50); do answers && break; sleep 0.2; done
fi

if answers; then
  echo "Redis answers on $host:$port"
  exit 0
fi
echo "Redis is not answering on $host:$port" >&2
[ "${CI:-}" = "true" ] && exit 1
echo "(not CI: the tests that need Redis will skip)" >&2
