"""Wait until a server just started answers: `python scripts/wait_for.py URL PID SECONDS`.

Exits 0 once URL answers 200; exits with a message as soon as the process PID has exited (its log says why), or
when SECONDS have passed without an answer. Used by the shell scripts that start a server of their own
(scripts/postman.sh, .ci/api-checks.sh)."""

from __future__ import annotations

import os
import sys
import time
import urllib.request


def main(url: str, pid: int, seconds: float) -> str | None:
    if not url.startswith("http://127.0.0.1:"):
        return f"{url}: only a server of this machine (http://127.0.0.1:PORT/...) is waited for"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return "the server exited"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http://127.0.0.1 only)
                if response.status == 200:
                    return None
        except OSError:
            pass
        time.sleep(0.25)
    return f"no answer from {url} within {seconds:g} s"


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__.splitlines()[0])
    sys.exit(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
