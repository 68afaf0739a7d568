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
- A worker that holds connections gives an idler worker a head start on the next one: it waits a moment
  (half a millisecond per connection it holds, 4 ms at most) before accepting. Kept-alive clients then
  spread over the workers instead of piling onto whichever woke first (eight connections all on one of two
  workers served /health at a third of the rate of the same eight spread four and four).
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

ACCEPT_DELAY_PER_CONNECTION = 0.0005  # seconds of head start given to other workers per connection held
ACCEPT_DELAY_MAX = 0.004


class ThreadWorker(GthreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_threads: dict[TConn, float] = {}  # connections handed to the thread pool, since when
        self.accept_at: float | None = None  # a head start given to other workers: accept from then on

    def accept(self, listener) -> None:
        """As gthread accepts, but after other workers' head start, and the connection waits for its first
        bytes in the event loop, not in a thread."""
        if self.accept_at is None:
            delay = min(self.nr_conns * ACCEPT_DELAY_PER_CONNECTION, ACCEPT_DELAY_MAX)
            if delay > 0:
                self.accept_at = time.monotonic() + delay
                self.set_accept_enabled(False)
                return
        self.accept_at = None
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
        # thread is taken, nor during other workers' head start.
        head_start = self.accept_at is not None and time.monotonic() < self.accept_at
        super().set_accept_enabled(enabled and not head_start and len(self.in_threads) < self.cfg.threads)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """gthread's wait, woken at the end of a head start; after it, a listener that is no longer ready
        (another worker took the connection) ends the head start, so the next connection gets its own."""
        if self.accept_at is not None and not self._accepting:
            remaining = self.accept_at - time.monotonic()
            if remaining > 0:  # (once it is over, a worker whose threads are all taken waits for one as usual)
                timeout = min(timeout, remaining)
        listening_after_head_start = self.accept_at is not None and self._accepting
        super().wait_for_and_dispatch_events(timeout)
        if listening_after_head_start:
            self.accept_at = None  # accept() took the connection, or another worker did

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
