"""Real processes on 127.0.0.1: a child in its own process group whose output goes to a file, the HTTP side of
one serving the app, free ports, and the JSON lines a process logged.

Every log file of the run is registered (`LogFile`): when a test fails, tests/conftest.py attaches to its report the
last lines of each log that was written while the test ran. Nothing is printed for a test that passes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections import deque
from pathlib import Path

import pytest
import requests

from tests.utils.environment import APP_SETTINGS, ROOT, VENV_BIN

STARTUP_SECONDS = 60  # generous: a loaded 2-core machine has been seen to take over 20 s (bounded all the same)
STOP_SECONDS = 25
REPORT_LINES = 40  # of each server's log, in the report of a failed test
# Settings of the servers that come only from each test, never from the shell running the suite.
SCRUBBED = {*APP_SETTINGS, "TEST_DATABASE_URL", "PORT", "BIND_HOST", "WEB_CONCURRENCY", "LOG_LEVEL", "PROCFILE"}
SCRUBBED_PREFIXES = ("RATE_LIMIT_", "JWKS_", "DB_", "GUNICORN", "FLASK_")


class LogFile:
    """A log written by something a test started, from when it opened until `close()`; the report of a test that
    fails while it is open shows its last lines."""

    OPEN: list[LogFile] = []  # every one of this run, in the order they opened

    def __init__(self, name: str, path: Path):
        self.name = name
        self.path = path
        self.opened_at = time.monotonic()
        self.closed_at: float | None = None
        LogFile.OPEN.append(self)

    def close(self) -> None:
        if self.closed_at is None:
            self.closed_at = time.monotonic()

    def written_since(self, moment: float) -> bool:
        """Whether the log got lines since `moment` (time.time()): a server a failed test did not use stays out."""
        try:
            return self.path.stat().st_mtime >= moment
        except OSError:
            return False

    def open_between(self, start: float, end: float) -> bool:
        return self.opened_at <= end and (self.closed_at is None or self.closed_at >= start)

    def last_lines(self, count: int = REPORT_LINES) -> str:
        try:
            with open(self.path, errors="replace") as handle:
                kept = deque(handle, maxlen=count + 1)
        except OSError as exc:
            return f"<no log: {exc}>"
        lines = list(kept)
        head = "...\n" if len(lines) > count else ""
        return head + "".join(lines[-count:])

    @classmethod
    def open_during(cls, start: float, end: float) -> list[LogFile]:
        return [log for log in cls.OPEN if log.open_between(start, end)]

    @classmethod
    def forget_closed_before(cls, moment: float) -> None:
        cls.OPEN[:] = [log for log in cls.OPEN if log.closed_at is None or log.closed_at >= moment]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(**settings: str | None) -> dict[str, str]:
    """os.environ without any app setting, with the virtualenv first on PATH, in development mode
    (APP_ENV=development) unless `settings` say otherwise, plus `settings` (None: leave that one unset)."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED and not k.startswith(SCRUBBED_PREFIXES)}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env["APP_ENV"] = "development"
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def tail(path: Path, limit: int = 20_000) -> str:
    try:
        data = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log: {exc}>"
    return data if len(data) <= limit else "...\n" + data[-limit:]


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


class Process:
    """A child in its own process group (session) whose output goes to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path):
        self.name = name
        self.log = log
        self.log_file = LogFile(name, log)
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return tail(self.log)

    def wait(self, seconds: float) -> int:
        try:
            return self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} did not exit within {seconds} s (its log is in the report)")

    def stop(self, sig: int = signal.SIGTERM, seconds: float = STOP_SECONDS) -> int:
        """Signal the whole group, wait (bounded), then SIGKILL whatever is left of the group."""
        try:
            if self.proc.poll() is None:
                signal_group(self.pid, sig)
                try:
                    self.proc.wait(timeout=seconds)
                except subprocess.TimeoutExpired:
                    signal_group(self.pid, signal.SIGKILL)
                    self.proc.wait(timeout=10)
            signal_group(self.pid, signal.SIGKILL)  # orphaned workers, if any
        finally:
            self.log_file.close()
        return self.proc.returncode


class Server:
    """The HTTP side of a process serving the app (gunicorn, or honcho running it) on 127.0.0.1:port."""

    def __init__(self, process: Process, port: int):
        self.process = process
        self.name = process.name
        self.url = f"http://127.0.0.1:{port}"

    def wait_healthy(self, seconds: float = STARTUP_SECONDS, port_clash_ok: bool = False) -> bool:
        """True once /health answers 200; False when the port was taken meanwhile and `port_clash_ok`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.proc.poll() is not None:
                output = self.process.output()
                if port_clash_ok and "in use" in output:
                    return False
                pytest.fail(f"{self.name} exited with {self.process.proc.returncode} while starting "
                            "(its log is in the report)")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return True
            time.sleep(0.1)
        pytest.fail(f"{self.name} did not answer /health within {seconds} s (its log is in the report)")

    def request(self, method: str, path: str, token: str | None = None, timeout: float = 10, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.url + path, headers=headers, timeout=timeout, **kwargs)


def json_lines(output: str) -> list[dict]:
    """The JSON objects logged in a process's output, also behind a prefix such as honcho's `12:00:00 web.1 | `."""
    entries = []
    for line in output.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        with contextlib.suppress(ValueError):
            entry = json.loads(line[start:])
            if isinstance(entry, dict):
                entries.append(entry)
    return entries
