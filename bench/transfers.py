"""Issue 23's figures (docs/import-export.md): imports and exports against PostgreSQL's own COPY, in the same run.

- Imports: N actors and 3N castings (of N movies made beforehand in SQL, three actors each), the same rows
  three ways, each on the same empty tables: `COPY ... FROM STDIN` (the yardstick), `POST /imports` through
  the bench's gunicorn (actors by name, the default match; castings by id, in requests of at most the HTTP
  limit's 100,000 rows), and `flask import` (the command line: actors, then castings with `--match id`, a
  process each, its start included). The app writes every record's history entry; COPY writes none, checks
  nothing but the table's constraints, matches nothing (a second COPY of the file duplicates or fails where an
  import finds every row unchanged) and has no Idempotency-Key. Each import is paired with the COPY measured
  just before it, so that each ratio compares figures taken moments apart.
- Export: `GET /movies/export` (CSV) of the whole catalogue at the run's largest size, against
  `COPY (SELECT id, title, release_date FROM movies ORDER BY id) TO STDOUT` (the same columns, rows and order),
  best of two each, and the RSS of the worker that served it: its peak during the export (VmHWM, reset just
  before) against its resident size just before (VmRSS).

The names and characters are made up but look real, and are the same at every run (no random generator).
"""

from __future__ import annotations

import io
import re
import subprocess
import threading
import time
from pathlib import Path

import psycopg2
import requests

HTTP_ROWS = 100_000  # the HTTP import's limit (docs/import-export.md): larger files go in several requests
CASTINGS_PER_MOVIE = 3
FIRST = ("Ada", "Amara", "Anouk", "Aziz", "Bea", "Bruno", "Camille", "Chidi", "Dara", "Dmitri", "Elena", "Emeka",
         "Farah", "Felix", "Greta", "Hamid", "Hana", "Idris", "Ines", "Ivo", "Jonas", "Juno", "Kaito", "Kemal",
         "Lena", "Leon", "Lucia", "Malik", "Mara", "Mateo", "Mei", "Nadia", "Nico", "Noor", "Olga", "Omar",
         "Paloma", "Pavel", "Priya", "Quentin", "Rafael", "Rosa", "Sami", "Sana", "Sofia", "Tariq", "Teodora",
         "Tomas", "Uma", "Valentin", "Vera", "Wanjiru", "Wes", "Xenia", "Yara", "Yusuf", "Zadie", "Zoran", "Agnes",
         "Bastian", "Celine", "Dario", "Esme", "Florian")
SURNAMES = ("Abara", "Bergström", "Castellano", "Dumont", "Eze", "Fischer", "García", "Haddad", "Ivanova",
            "Jansen", "Kowalski", "Laurent", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Sato",
            "Tanaka", "Ulloa", "Varga", "Weber", "Xu", "Yilmaz", "Zhou", "Almeida", "Brennan", "Costa", "Delgado",
            "Eriksen", "Ferreira", "Gallo", "Horvat", "Iqbal", "Jovanović", "Kim", "Lindqvist", "Mensah", "Novak",
            "O'Connell", "Park", "Quispe", "Reyes", "Silva", "Thompson", "Urquhart", "Vasquez", "Wójcik", "Xavier",
            "Yamamoto", "Zielinski", "Achebe", "Bianchi", "Conti", "Dubois", "Esposito", "Fontaine", "Greco",
            "Hansen", "Ibarra", "Jaramillo", "Keller", "Lombardi")
ROLES = ("", "Detective ", "Captain ", "Dr. ", "Aunt ", "Officer ", "Young ", "Old ", "Sister ", "Professor ",
         "Mayor ", "Nurse ")
GENDERS = ("female", "male", "female", "male", "non-binary")
_NAMES = len(FIRST) * len(SURNAMES) * 26  # first name, middle initial, surname: 106,496 different names
_STRIDE = 7919  # a prime that divides no count here: consecutive rows get names far apart


def actor_name(i: int) -> str:
    j = i * _STRIDE % _NAMES
    return f"{FIRST[j % len(FIRST)]} {chr(65 + j // (len(FIRST) * len(SURNAMES)))}. " \
           f"{SURNAMES[j // len(FIRST) % len(SURNAMES)]}"


def actors_csv(count: int) -> bytes:
    """`count` actors of different names (the import matches actors by name), aged 18 to 87."""
    if count > _NAMES:
        raise ValueError(f"at most {_NAMES:,} different names")
    return ("name,age,gender\r\n" + "".join(
        f"{actor_name(i)},{18 + i * 37 % 70},{GENDERS[i % len(GENDERS)]}\r\n" for i in range(count))).encode()


def cast_of(movie: int, actors: int) -> list[int]:
    """The three different actors (ids 1..actors) of movie `movie` (1..)."""
    return [((movie - 1) * CASTINGS_PER_MOVIE + k) * _STRIDE % actors + 1 for k in range(CASTINGS_PER_MOVIE)]


def castings_csv(movies: int, actors: int) -> bytes:
    """The castings of movies 1..`movies` (by id: movie_id, actor_id), each with a character and a billing."""
    lines = ["movie_id,actor_id,character,billing\r\n"]
    for movie in range(1, movies + 1):
        for billing, actor in enumerate(cast_of(movie, actors), start=1):
            j = (movie * CASTINGS_PER_MOVIE + billing) * 104_729
            character = f"{ROLES[j % len(ROLES)]}{FIRST[j // 7 % len(FIRST)]} {SURNAMES[j // 11 % len(SURNAMES)]}"
            lines.append(f"{movie},{actor},{character},{billing}\r\n")
    return "".join(lines).encode()


class Imports:
    """The three ways in, on the bench's database (EMPTIED: its catalogue, history and idempotency keys)."""

    def __init__(self, database_url: str, actors: int, workdir: Path):
        self.url, self.actors, self.movies = database_url, actors, actors
        self.castings = actors * CASTINGS_PER_MOVIE
        self.actors_file, self.castings_file = workdir / "import-actors.csv", workdir / "import-castings.csv"
        self.actors_file.write_bytes(actors_csv(actors))
        self.castings_file.write_bytes(castings_csv(self.movies, actors))

    def _sql(self, *statements: str | tuple[str, tuple]) -> list:
        """Each statement (or statement and its parameters) in autocommit; the last one's rows."""
        connection = psycopg2.connect(self.url)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(*((statement,) if isinstance(statement, str) else statement))
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def prepare(self) -> None:
        """The movies the castings name (not measured), and nothing else in the catalogue."""
        movies = ("INSERT INTO movies (title, release_date) SELECT 'Feature ' || i || ': The Long Way Home', "
                  "DATE '1960-01-01' + (i * 13 %% 23000) FROM generate_series(1, %s) AS i", (self.movies,))
        self._sql("TRUNCATE movie_actors, movies, actors, history, idempotency_keys RESTART IDENTITY", movies,
                  "VACUUM ANALYZE movies")

    def empty(self) -> None:
        """No actors, castings or history: each way in starts from the same tables (the ids from 1 again)."""
        self._sql("TRUNCATE movie_actors, actors, history, idempotency_keys RESTART IDENTITY",
                  "VACUUM ANALYZE actors, movie_actors, history")

    def check(self, how: str, history: bool) -> list[str]:
        """Every row arrived, as given (the castings by id name the actors in the file's order)."""
        (actors, castings, entries, first), = self._sql(
            "SELECT (SELECT count(*) FROM actors), (SELECT count(*) FROM movie_actors), (SELECT count(*) FROM history),"
            " (SELECT name FROM actors WHERE id = 1)")
        problems = []
        if (actors, castings) != (self.actors, self.castings) or first != actor_name(0):
            problems.append(f"{how}: {actors:,} actors and {castings:,} castings (actor 1: {first!r}), not "
                            f"{self.actors:,} and {self.castings:,} ({actor_name(0)!r})")
        if history and not entries:
            problems.append(f"{how}: no history entries")
        self.entries = entries
        return problems

    def copy(self) -> dict:
        connection = psycopg2.connect(self.url)
        try:
            seconds = {}
            for kind, table in (("actors", "actors (name, age, gender)"),
                                ("castings", "movie_actors (movie_id, actor_id, character, billing)")):
                body = (self.actors_file if kind == "actors" else self.castings_file).read_bytes()
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    cursor.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER)", io.BytesIO(body))
                connection.commit()
                seconds[kind] = time.perf_counter() - started
        finally:
            connection.close()
        return self._figures(seconds, self.check("COPY", history=False))

    def http(self, url: str, token: str) -> dict:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
        seconds, problems, requests_made = {}, [], 0
        header, *rows = self.castings_file.read_bytes().removesuffix(b"\r\n").split(b"\r\n")
        bodies = [("actors", "", self.actors_file.read_bytes())] + [  # castings: HTTP_ROWS rows a request
            ("castings", "&match=id", b"\r\n".join([header, *rows[start:start + HTTP_ROWS]]) + b"\r\n")
            for start in range(0, len(rows), HTTP_ROWS)]
        for kind, match, body in bodies:
            started = time.perf_counter()
            try:
                answer = requests.post(f"{url}/imports?type={kind}{match}", data=body, headers=headers, timeout=600)
            except requests.RequestException as exc:  # a worker past GUNICORN_TIMEOUT is restarted: no answer
                problems.append(f"POST /imports?type={kind}: no answer after {time.perf_counter() - started:.1f} s "
                                f"({exc.__class__.__name__})")
                continue
            finally:
                seconds[kind] = seconds.get(kind, 0.0) + time.perf_counter() - started
                requests_made += 1
            if answer.status_code != 200 or answer.json()["import"]["created"] != body.count(b"\n") - 1:
                problems.append(f"POST /imports?type={kind}: {answer.status_code} after "
                                f"{answer.elapsed.total_seconds():.1f} s: {answer.text[:300]}")
        return {**self._figures(seconds, problems + self.check("POST /imports", history=True)),
                "requests": requests_made, "history_entries": self.entries}

    def cli(self, flask: str, app_dir: Path, env: dict) -> dict:
        seconds, problems = {}, []
        for kind, path, extra in (("actors", self.actors_file, []),
                                  ("castings", self.castings_file, ["--match", "id"])):
            started = time.perf_counter()
            done = subprocess.run([flask, "--app", "app", "import", str(path), *extra], cwd=app_dir, env=env,
                                  capture_output=True, text=True, timeout=1800)
            seconds[kind] = time.perf_counter() - started
            if done.returncode:
                problems.append(f"flask import {path.name}: exit {done.returncode}: {done.stderr[-500:]}")
        return {**self._figures(seconds, problems + self.check("flask import", history=True)),
                "history_entries": self.entries}

    def _figures(self, seconds: dict, problems: list[str]) -> dict:
        total = sum(seconds.values())
        return {"seconds": {kind: round(s, 3) for kind, s in seconds.items()}, "total_seconds": round(total, 3),
                "complete": not problems,  # every row in, as given: else its rates are not an import's
                "rows_per_second": {"actors": self.actors / seconds["actors"],
                                    "castings": self.castings / seconds["castings"],
                                    "all": (self.actors + self.castings) / total},
                "failures": problems}


def run_imports(database_url: str, actors: int, workdir: Path, server_url: str, token: str,
                cli: tuple[str, Path, dict] | None) -> dict:
    """COPY, then POST /imports; COPY again, then flask import (unless `cli` is None). Each ratio is of a pair."""
    imports = Imports(database_url, actors, workdir)
    imports.prepare()
    result = {"actors": imports.actors, "castings": imports.castings, "movies": imports.movies, "failures": []}
    ways = [("copy_http", imports.copy), ("http", lambda: imports.http(server_url, token))]
    if cli:
        ways += [("copy_cli", imports.copy), ("cli", lambda: imports.cli(*cli))]
    for key, way in ways:
        imports.empty()
        result[key] = way()
        result["failures"] += result[key].pop("failures")
        rate = result[key]["rows_per_second"]
        print(f"  import {key:<10} {rate['all']:>9,.0f} rows/s  (actors {rate['actors']:,.0f}, castings "
              f"{rate['castings']:,.0f}; {result[key]['total_seconds']:.1f} s)", flush=True)
    for key, copy in (("http", "copy_http"), ("cli", "copy_cli")):
        if key in result and result[key]["complete"] and result[copy]["complete"]:
            result[f"{key}_vs_copy"] = result[key]["rows_per_second"]["all"] / result[copy]["rows_per_second"]["all"]
    imports.empty()
    return result


# --- the export ------------------------------------------------------------------------------------------------

# The movies export's rows: its columns (casting/schemas/rows.py), by id (its default sort).
COPY_TO = "COPY (SELECT id, title, release_date FROM movies ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)"


def _status_kb(pid: int, field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))


def _workers(master: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


class _Sink:
    def __init__(self):
        self.size = 0

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)


def copy_out(database_url: str) -> tuple[float, int]:
    connection = psycopg2.connect(database_url)
    try:
        sink = _Sink()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.copy_expert(COPY_TO, sink)
        return time.perf_counter() - started, sink.size
    finally:
        connection.close()


def export_once(url: str, token: str, master: int, rows: int) -> dict:
    """One GET /movies/export, streamed and counted, with every worker's RSS just before and its peak during it."""
    workers = _workers(master)
    idle = {pid: _status_kb(pid, "VmRSS") for pid in workers}
    reset = True
    for pid in workers:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux)
        except OSError:
            reset = False
    sampled = dict(idle)  # a fallback for a kernel without the reset: VmRSS sampled every 20 ms
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            for pid in workers:
                sampled[pid] = max(sampled[pid], _status_kb(pid, "VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines, size, tail, problems = 0, 0, b"", []
    started = time.perf_counter()
    try:
        with requests.get(f"{url}/movies/export", headers={"Authorization": f"Bearer {token}"}, stream=True,
                          timeout=600) as answer:
            if answer.status_code != 200 or not answer.headers.get("Content-Type", "").startswith("text/csv"):
                problems.append(f"GET /movies/export: {answer.status_code} {answer.headers.get('Content-Type')}")
            for chunk in answer.iter_content(256 * 1024):
                lines += chunk.count(b"\n")
                size += len(chunk)
                tail = (tail + chunk)[-200:]
    except requests.RequestException as exc:
        problems.append(f"GET /movies/export broke off: {exc}")
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peaks = {pid: max(sampled[pid], _status_kb(pid, "VmHWM") if reset else 0) for pid in workers}
    last = tail.rstrip(b"\r\n").rsplit(b"\n", 1)[-1].decode()
    if not problems and (lines != rows + 2 or last != f"#end,{rows},"):
        problems.append(f"GET /movies/export: {lines - 2:,} rows and the last line {last!r}, not {rows:,} rows "
                        "and the end line")
    served = max(workers, key=lambda pid: peaks[pid] - idle[pid])
    return {"seconds": seconds, "bytes": size, "rows_per_second": rows / seconds, "idle_rss_mb": idle[served] / 1024,
            "peak_rss_mb": peaks[served] / 1024, "rss_growth_mb": (peaks[served] - idle[served]) / 1024,
            "hwm_reset": reset, "failures": problems}


def run_export(database_url: str, url: str, token: str, master: int, rows: int, rounds: int = 2) -> dict:
    """COPY TO and the export, in alternation, `rounds` times: the best of each, and the largest RSS growth."""
    copies, exports, failures = [], [], []
    for _ in range(rounds):
        copies.append(copy_out(database_url))
        exported = export_once(url, token, master, rows)
        failures += exported.pop("failures")
        exports.append(exported)
    copy_seconds, copy_bytes = min(copies)
    best = min(exports, key=lambda e: e["seconds"])
    grew = max(exports, key=lambda e: e["rss_growth_mb"])
    result = {"rows": rows, "copy_rows_per_second": rows / copy_seconds, "copy_bytes": copy_bytes,
              "export_rows_per_second": best["rows_per_second"], "export_bytes": best["bytes"],
              "ratio": best["rows_per_second"] * copy_seconds / rows, "idle_rss_mb": grew["idle_rss_mb"],
              "peak_rss_mb": grew["peak_rss_mb"], "rss_growth_mb": grew["rss_growth_mb"],
              "hwm_reset": grew["hwm_reset"], "rounds": rounds, "failures": failures}
    print(f"  export {rows:,} movies: {result['export_rows_per_second']:,.0f} rows/s vs COPY TO "
          f"{result['copy_rows_per_second']:,.0f} ({result['ratio']:.2f}x); worker RSS {grew['idle_rss_mb']:.0f} -> "
          f"{grew['peak_rss_mb']:.0f} MB (+{grew['rss_growth_mb']:.1f})", flush=True)
    return result
