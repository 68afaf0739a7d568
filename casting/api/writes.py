"""`safe_write`, the decorator of every write route: the view runs as one retrying transaction
(casting.web.transactions) that bumps the catalogue version last (casting.catalogue.version), and an
Idempotency-Key makes retrying the whole request safe (casting.web.idempotency)."""

from __future__ import annotations

import functools

from flask import Response, current_app, g

from casting.catalogue import version
from casting.web import followers, idempotency
from casting.web.transactions import run


def safe_write(view):
    @functools.wraps(view)
    def write(*args, **kwargs) -> Response:
        def work() -> Response:
            return current_app.make_response(view(*args, **kwargs))

        key = idempotency.from_request()
        if key is None:
            response = run(work, begin=version.begin_write, finish=version.finish_write)
        else:
            idempotency.purge_now_and_then()
            response = run(work, begin=version.begin_write, finish=version.finish_write,
                           before=lambda: idempotency.claim(key),
                           after=lambda answer: idempotency.keep(key, answer),
                           on_error=lambda error: idempotency.keep_error(key, error))
        committed = g.write_attempt.version
        if committed is not None:
            # Where the writer's next reads must be answered from (casting/web/followers.py).
            followers.answered(response, committed)
            pool = followers.followers()
            if pool is not None:
                pool.remember(g.claims["sub"], committed)
        return response

    write.safe_write = True  # casting.openapi documents its headers and answers
    return write
