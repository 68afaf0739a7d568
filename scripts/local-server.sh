# Sourced by the scripts that start a server of their own on 127.0.0.1 (scripts/postman.sh, .ci/api-checks.sh):
# a throwaway key for the local issuer, and the server stopped and the scratch folder removed however the run ends.
# The caller sets `python` (the virtualenv's), `workdir` and `server_pid` (empty until the server starts).

# A new RSA key for the local issuer, in PEM, on stdout: the caller keeps it in a variable, never in a file.
new_issuer_key() {
  "$python" - <<'PY'
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
print(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()).decode(), end="")
PY
}

# The server stopped (its graceful stop, 10 s at most, then killed) and the scratch folder removed. For `trap ... EXIT`.
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
