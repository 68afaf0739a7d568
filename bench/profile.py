"""py-spy profiles of one gunicorn worker under a scenario (bench/profiles/ holds the committed summaries).

    BENCH_DATABASE_URL=... python bench/profile.py --size 10000 --seconds 10

Loads the catalogue (bench/load.sql), runs the app as bench/run.py does (production configuration, Redis
for the rate limiter when BENCH_REDIS_URL names one), drives each chosen scenario with wrk for a warm-up
second and then `--seconds`, while `py-spy record --format raw` samples one worker (all its threads, idle
ones left out), and writes for each scenario bench/profiles/<name>.txt: the functions with the most samples
of their own (self) and with the most samples under them (total), as shares of the worker's busy samples.
py-spy needs to ptrace the worker (root, or kernel.yama.ptrace_scope = 0).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from scenarios import ACTOR_NAME, CHARACTER, COMMON, LIST_50, NARROW, Server, scenarios
from tools import BENCH, VENV_BIN, Issuer, free_port, gunicorn, load, production_env, wrk

CHOSEN = [LIST_50, NARROW, COMMON, CHARACTER, ACTOR_NAME]
# py-spy from this virtualenv, else from PATH (`pip install py-spy` anywhere).
PY_SPY = str(VENV_BIN / "py-spy") if (VENV_BIN / "py-spy").exists() else (shutil.which("py-spy") or "py-spy")
TOP = 25


def summary(raw: str, title: str, cpu: bool = False) -> str:
    """Top functions by self and by total samples from py-spy's raw (collapsed) stacks."""
    own, total, busy = collections.Counter(), collections.Counter(), 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [re.sub(r" \((?:/[^)]*/)?(site-packages/|casting/|lib/python3[.\d]*/)?", " (", frame)
                  for frame in stack.split(";")[1:]]  # the first frame names the thread
        if not frames:
            continue
        samples = int(count)
        busy += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            total[frame] += samples
    if cpu:
        about = [f"{busy} samples of the worker's threads running on a processor (py-spy without --idle, 100 per "
                 "second; threads waiting for I/O, a lock or work left out), shares of the worker's CPU time."]
    else:
        about = [f"{busy} samples of the worker's threads serving a request or waiting on its I/O (py-spy --idle, "
                 "100 per second; threads waiting for work left out), wall-clock shares.", "",
                 "Self time in do_execute is waiting for PostgreSQL, in _read_from_socket for Redis, in write for "
                 "the client."]
    lines = [f"# {title}", "", *about, "", f"## top {TOP} by self", ""]
    lines += [f"{n / busy:6.1%}  {frame}" for frame, n in own.most_common(TOP)]
    lines += ["", f"## top {TOP} by total (self and what it calls)", ""]
    lines += [f"{n / busy:6.1%}  {frame}" for frame, n in total.most_common(TOP)]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=BENCH / "profiles")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help=f"a scenario to profile (repeatable; default: {', '.join(CHOSEN)})")
    parser.add_argument("--cpu", action="store_true",
                        help="on-CPU samples only (no --idle): where the worker spends its processor time, not "
                             "its waits; the files are named <scenario>.cpu.txt")
    args = parser.parse_args()
    database_url = os.environ["BENCH_DATABASE_URL"]
    load(database_url, args.size)
    issuer, port = Issuer(), free_port()
    env = production_env(database_url, issuer, port, os.environ.get("BENCH_REDIS_URL"))
    args.out.mkdir(parents=True, exist_ok=True)
    by_name = {s.name: s for s in scenarios(1)}
    with gunicorn(BENCH.parent, env, port) as process, tempfile.TemporaryDirectory() as workdir:
        worker = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()[0]
        server = Server(f"http://127.0.0.1:{port}", issuer.token(), args.size, Path(workdir), database_url)
        for name in args.only or CHOSEN:
            scenario = by_name[name]
            wrk_env = {**scenario.env(server), "BENCH_TOKEN": server.token}
            wrk(server.url, scenario.script, 1, 8, wrk_env)
            raw = Path(workdir) / "raw.txt"
            spy = subprocess.Popen([PY_SPY, "record", "--format", "raw", *(() if args.cpu else ("--idle",)),
                                    "--threads", "-d", str(args.seconds), "-p", worker, "-o", str(raw)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            measured: dict = {}
            load_thread = threading.Thread(target=lambda script=scenario.script, e=wrk_env, m=measured: m.update(
                wrk(server.url, script, args.seconds + 1, 8, e)))
            load_thread.start()
            _, errors = spy.communicate(timeout=args.seconds + 60)
            load_thread.join(timeout=args.seconds + 60)
            if spy.returncode:
                print(errors, file=sys.stderr)
                return 1
            text = raw.read_text()
            busy = "\n".join(line for line in text.splitlines() if not _idle(line))
            title = (f"{name} at {args.size:,} movies: {measured.get('rps', 0):,.0f} req/s under py-spy "
                     f"(8 connections, one worker of the server sampled)")
            stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            path = args.out / (stem + (".cpu.txt" if args.cpu else ".txt"))
            path.write_text(summary(busy, title, cpu=args.cpu))
            print(f"wrote {path}", flush=True)
    return 0


def _idle(line: str) -> bool:
    """A stack of a thread waiting for work (gunicorn's accept loop, the worker pool's queue), not serving."""
    stack = line.rpartition(" ")[0]
    leaf = stack.rsplit(";", 1)[-1]
    return bool(re.match(r"(select|wait|_wait_for_tstate_lock|accept|poll|sleep|_worker) \(", leaf)) and (
        "handle_request" not in stack)


if __name__ == "__main__":
    sys.exit(main())
