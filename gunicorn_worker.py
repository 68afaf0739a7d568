"""The gunicorn worker the app runs on (gunicorn.conf.py): gunicorn's threaded worker, gthread, made to hold out
against a few slow clients.

A slow client sends its request a line or a few bytes at a time. gunicorn's sync worker gives it the whole
process until its timeout kills the worker (25 s): two such connections stall a two-worker server. gthread
serves a request per thread, but still (gunicorn 27) a worker accepts connections while all its threads are
taken and queues them behind the slow ones, waits in a thread for a new connection's first bytes, and lets a
slow client keep its thread as long as it keeps trickling. This worker changes exactly that:

- A new connection waits for its first bytes in the worker's event loop, like a kept-alive one, and takes a
  thread only then (it is closed after `keepalive` seconds of silence).
- A worker whose threads are all taken stops accepting: new connections wait in the listen backlog for a
  worker with a free thread instead of queueing behind slow clients.
- A request may keep its thread `timeout` seconds (GUNICORN_TIMEOUT) at most: past that its connection is
  shut down, which ends a read or write blocked on a slow client at once. It is the bound the sync worker
  enforced by killing the whole process, kept per connection.

So it takes as many slow clients as the server has threads (WEB_CONCURRENCY x GUNICORN_THREADS) to hold up
new requests, each for GUNICORN_TIMEOUT at most. A reverse proxy that buffers requests (Heroku's router buffers
the headers; nginx the headers and the body) takes the rest: docs/deployment.md.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import time
from functools import partial

from gunicorn.workers.gthread import TConn
from gunicorn.workers.gthread import ThreadWorker as GthreadWorker


class ThreadWorker(GthreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_threads: dict[TConn, float] = {}  # connections handed to the thread pool, since when

    def accept(self, listener) -> None:
        """As gthread accepts, but the connection waits for its first bytes in the event loop, not in a thread."""
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())  # non-blocking from here
        conn.timeout = time.monotonic() + self.cfg.keepalive  # what gthread gives connections it defers
        self.pending_conns.append(conn)
        self.poller.register(client, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn))

    def enqueue_req(self, conn: TConn) -> None:
        self.in_threads[conn] = time.monotonic()
        super().enqueue_req(conn)
        if len(self.in_threads) >= self.cfg.threads:
            self.set_accept_enabled(False)

    def finish_request(self, conn: TConn, fs) -> None:
        self.in_threads.pop(conn, None)
        super().finish_request(conn, fs)
        if self.alive and self.nr_conns < self.worker_connections:
            self.set_accept_enabled(True)

    def set_accept_enabled(self, enabled: bool) -> None:
        # gthread's loop turns accepting back on whenever it is under worker_connections: not while every
        # thread is taken.
        super().set_accept_enabled(enabled and len(self.in_threads) < self.cfg.threads)

    def murder_pending(self) -> None:
        """gthread's per-loop clean-up of silent connections, plus the per-request time limit."""
        super().murder_pending()
        too_old = time.monotonic() - self.cfg.timeout
        for conn, since in list(self.in_threads.items()):
            if since < too_old and not getattr(conn, "cut", False):
                conn.cut = True
                self.log.warning("closing the connection of %s: its request took more than %d s",
                                 conn.client, self.cfg.timeout)
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)
