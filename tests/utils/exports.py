"""An export a client leaves mid-way, on PostgreSQL: the COPY the export runs, watched in pg_stat_activity, and a
client that starts an export on a raw socket, reads its first bytes and leaves with a reset
(tests/api/test_exports_copy.py through gunicorn, tests/deployment/test_pgbouncer.py through a pooler)."""

from __future__ import annotations

import socket
import struct
import time

import psycopg2

LEFT_SECONDS = 20  # how long a left export's COPY may take to be cancelled and its connection to go idle


def copies_running(dsn: str) -> list[str]:
    """The states of the statements still running an export's COPY on that database (libpq's `dsn`), or left in a
    transaction after one."""
    connection = psycopg2.connect(dsn)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                           "AND query LIKE 'COPY (SELECT%%' AND state <> 'idle'")
            return [state for (state,) in cursor.fetchall()]
    finally:
        connection.close()


def leave_mid_export(base_url: str, path: str, authorization: str, dsn: str) -> None:
    """GET `path` (an export far larger than the sockets hold) and read only its first bytes: its COPY runs, waiting
    for the client; then close with a reset, and wait until no COPY is left (at most LEFT_SECONDS)."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\n\r\n".encode())
        head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 200"), head[:300]
        assert copies_running(dsn) == ["active"]  # waiting for the client
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # closed with a reset
    deadline = time.monotonic() + LEFT_SECONDS
    while copies_running(dsn) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert copies_running(dsn) == []
