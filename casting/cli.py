"""Command-line tools: `flask --app app seed`, `flask --app app token ROLE`, `flask --app app import FILE...` and
`flask --app app export TYPE` (docs/import-export.md), and the maintenance commands (docs/operations.md)."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import sys
import uuid
from pathlib import Path

import click
from flask import Flask, current_app, g
from sqlalchemy import select, text

from casting.catalogue import exports, history, imports, tabular, version
from casting.catalogue.tabular import CSV, EXTENSIONS, FORMATS, NDJSON, FileError
from casting.errors import ApiError
from casting.openapi.document import build
from casting.schemas.queries import ActorExportQuery, CastingExportQuery, MovieExportQuery
from casting.schemas.rows import LAYOUTS, MATCHES
from casting.tokens.claims import EMAIL, NAME, editor
from casting.tokens.roles import ROLE_PERMISSIONS
from casting.web import idempotency
from casting.web.transactions import run
from models import Actor, Movie, db

# A small demo catalogue: (title, release date, names of the cast).
DEMO_ACTORS = [
    ("Chris Pine", 45, "male"),
    ("Gal Gadot", 41, "female"),
    ("Viola Davis", 61, "female"),
    ("Mahershala Ali", 52, "male"),
    ("Tilda Swinton", 66, "female"),
    ("Oscar Isaac", 47, "male"),
    ("Lupita Nyong'o", 43, "female"),
    ("Riz Ahmed", 44, "male"),
    ("Saoirse Ronan", 32, "female"),
    ("Dev Patel", 36, "male"),
    ("Florence Pugh", 30, "female"),
    ("Steven Yeun", 43, "male"),
]
DEMO_MOVIES = [
    ("Raids of the Ice", "2017-04-29", ["Chris Pine", "Gal Gadot"]),
    ("The Quiet Harbour", "2019-09-13", ["Viola Davis", "Mahershala Ali", "Riz Ahmed"]),
    ("Glass Orchard", "2021-03-05", ["Tilda Swinton", "Saoirse Ronan"]),
    ("Night Train to Varna", "2018-11-23", ["Oscar Isaac", "Lupita Nyong'o"]),
    ("Paper Kingdoms", "2022-06-17", ["Dev Patel", "Florence Pugh", "Steven Yeun"]),
    ("Salt and Signal", "2016-02-12", ["Chris Pine", "Viola Davis"]),
    ("The Last Lighthouse", "2023-10-06", ["Saoirse Ronan", "Riz Ahmed"]),
    ("Copper Sky", "2020-08-21", ["Gal Gadot", "Oscar Isaac", "Florence Pugh"]),
    ("Under the Linden", "2015-05-01", ["Tilda Swinton"]),
    ("Midnight Cartographers", "2024-01-19", ["Mahershala Ali", "Dev Patel", "Lupita Nyong'o"]),
    ("A Map of Small Rooms", "2025-04-04", ["Steven Yeun", "Saoirse Ronan"]),
    ("Echoes of June", "2026-06-12", []),
]


def seed_demo() -> tuple[int, int]:
    """Add whatever of the demo catalogue is missing; return (movies added, actors added)."""
    names = [name for name, _, _ in DEMO_ACTORS]
    actors = {a.name: a for a in db.session.scalars(select(Actor).where(Actor.name.in_(names)))}
    added_actors = 0
    for name, age, gender in DEMO_ACTORS:
        if name not in actors:
            actors[name] = Actor(name=name, age=age, gender=gender)
            db.session.add(actors[name])
            added_actors += 1
    existing = {(m.title, m.release_date) for m in db.session.scalars(select(Movie))}
    added_movies = 0
    for title, released, cast in DEMO_MOVIES:
        date = dt.date.fromisoformat(released)
        if (title, date) not in existing:
            db.session.add(Movie(title=title, release_date=date, actors=[actors[n] for n in cast]))
            added_movies += 1
    db.session.commit()
    return added_movies, added_actors


def register(app: Flask) -> None:
    register_files(app)
    app.cli.add_command(_Migrations("db", help="Perform database migrations."))

    @app.cli.command("seed")
    def seed():
        """Load the demo catalogue (safe to run again: adds only what is missing)."""
        movies, actors = seed_demo()
        click.echo(f"seeded {movies} movies and {actors} actors")

    @app.cli.command("token")
    @click.argument("role", type=click.Choice(sorted(ROLE_PERMISSIONS)))
    # Never longer than the app accepts (TOKEN_MAX_LIFETIME_SECONDS).
    @click.option("--expires-in", type=click.IntRange(1, app.config["TOKEN_MAX_LIFETIME_SECONDS"]),
                  default=min(8 * 3600, app.config["TOKEN_MAX_LIFETIME_SECONDS"]), show_default=True,
                  help="Lifetime in seconds.")
    @click.option("--name", default=None, help="Whose token: a person of their own in the history (a subject of "
                  "their own, and this name beside their changes).")
    @click.option("--email", default=None, help="With --name: the email the history shows beside the name.")
    def token(role: str, expires_in: int, name: str | None, email: str | None):
        """Print a token for ROLE from the local issuer (development only)."""
        issuer = current_app.extensions["local_issuer"]
        if issuer is None:
            raise click.ClickException("AUTH0_DOMAIN is set: tokens come from Auth0, not from this command")
        if email and not name:
            raise click.UsageError("--email goes with --name")
        if name is not None and editor({NAME: name})[0] is None:
            raise click.BadParameter("must be 1 to 200 visible characters, without control or bidirectional "
                                     "characters", param_hint="--name")
        if email is not None and editor({NAME: name, EMAIL: email})[1] is None:
            raise click.BadParameter("must be an email address", param_hint="--email")
        click.echo(issuer.mint(role, expires_in=expires_in, name=name, email=email))

    @app.cli.command("openapi")
    def openapi_document():
        """Print the OpenAPI document (the committed openapi.json is this output)."""
        click.echo(json.dumps(build(current_app), indent=2))

    @app.cli.command("purge-idempotency-keys")
    @click.option("--older-than-hours", type=click.FloatRange(min=0), default=None,
                  help="Delete outcomes older than this (default: the 24 hours they are kept).")
    def purge_idempotency_keys(older_than_hours: float | None):
        """Delete expired Idempotency-Key outcomes (the app also deletes them by itself, a batch at a time)."""
        before = None
        if older_than_hours is not None:
            before = dt.datetime.now(dt.UTC) - dt.timedelta(hours=older_than_hours)
        click.echo(f"deleted {idempotency.purge(before)} idempotency keys")

    @app.cli.command("purge-history")
    @click.option("--before", "before", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
                  help="Delete the entries made before this date (YYYY-MM-DD, UTC).")
    def purge_history(before: dt.datetime):
        """Delete history entries older than a date, for deployments that must not keep them longer."""
        click.echo(f"deleted {history.purge(before.replace(tzinfo=dt.UTC))} history entries")


# --- files (docs/import-export.md) -----------------------------------------------------------------------------

EXPORT_QUERIES = {"movies": MovieExportQuery, "actors": ActorExportQuery, "castings": CastingExportQuery}
KIND_ORDER = ("movies", "actors", "castings")  # so that castings find the movies and actors of the same import


class _Stop(ApiError):
    """Ends the import's transaction without committing it (problems found, or a dry run)."""

    def __init__(self, dry_run: bool):
        super().__init__(200 if dry_run else 422, "nothing was written")


def _media(path: Path, raw: bytes) -> str:
    if path.suffix.lower() in (".ndjson", ".jsonl"):
        return NDJSON
    if path.suffix.lower() == ".csv":
        return CSV
    return NDJSON if raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else CSV


def _files(paths: tuple[str, ...], kind: str | None) -> list[tuple[Path, bytes, str, str]]:
    """Each file with its bytes, media type and kind (from --type, or its header), movies and actors first."""
    loaded = []
    for name in paths:
        path = Path(name)
        raw = path.read_bytes()
        media = _media(path, raw)
        layout = LAYOUTS[kind] if kind else tabular.kind_of(raw, media, LAYOUTS.values())
        if layout is None:
            raise click.UsageError(f"cannot tell what {name} holds from its header: give --type")
        loaded.append((path, raw, media, layout.kind))
    return sorted(loaded, key=lambda item: KIND_ORDER.index(item[3]))


def _as_operator() -> None:
    """The history's subject for changes made here: who ran the command, and the run's request id."""
    user = getpass.getuser()
    g.claims = {"sub": f"cli|{user}", "permissions": [], NAME: f"{user} (command line)"}
    g.request_id = f"cli-{uuid.uuid4().hex}"


def _unbounded() -> None:
    """A load past the HTTP limit may take longer than a request's statement timeout."""
    version.begin_write()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL statement_timeout = 0"))


def _print_report(path: Path, report: imports.Report, written: bool) -> None:
    verb = "" if written else "would be "
    click.echo(f"{path}: {report.kind}, {report.rows:,} rows: {report.created:,} {verb}created, "
               f"{report.updated:,} {verb}updated, {report.unchanged:,} unchanged", err=True)
    for problem in sorted(report.problems, key=lambda p: p.line):
        where = f"{path}:{problem.line}" + (f": {problem.column}" if problem.column else "")
        click.echo(f"  {where}: {problem.message}", err=True)


def migrations(app: Flask) -> click.Group:
    """Flask-Migrate set up on `app` (once), and its `flask db` commands. Imported here, when migrations run, not
    at the top: Flask-Migrate imports Alembic, 190 ms of every start (each command's, each server's)."""
    # Alembic logs its plugins' set-up as it is imported, which used to be before the app's logging was set up:
    # not shown then, not shown now.
    alembic_logs = logging.getLogger("alembic")
    level = alembic_logs.level
    alembic_logs.setLevel(logging.WARNING)
    try:
        from flask_migrate import Migrate
        from flask_migrate.cli import db as commands
    finally:
        alembic_logs.setLevel(level)
    if "migrate" not in app.extensions:
        Migrate(app, db, render_as_batch=True)
    return commands


class _Migrations(click.Group):
    """`flask db ...`: Flask-Migrate's group, found only when it runs (its own options, commands and help)."""

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        return migrations(current_app).make_context(info_name, args, parent=parent, **extra)


def register_files(app: Flask) -> None:
    @app.cli.command("import")
    @click.argument("paths", metavar="FILE...", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
    @click.option("--type", "kind", type=click.Choice(KIND_ORDER), default=None,
                  help="What every file holds (default: told by each file's header or first line).")
    @click.option("--match", type=click.Choice(MATCHES), default="natural", show_default=True,
                  help="How rows find their records: natural keys, or ids.")
    @click.option("--dry-run", is_flag=True, help="Check everything and say what would change; write nothing.")
    def import_files(paths: tuple[str, ...], kind: str | None, match: str, dry_run: bool):
        """Import CSV or NDJSON files of movies, actors and castings, all in one transaction: every file or none.

        Movies and actors go first, so castings may name those the same import creates. No size limit."""
        files = _files(paths, kind)
        _as_operator()
        reports: list[tuple[Path, imports.Report]] = []

        def work():
            reports.clear()
            for path, raw, media, file_kind in files:
                layout, problems = LAYOUTS[file_kind], []
                # Lines, to measure progress by (a quoted cell may span lines: an estimate, never short).
                with click.progressbar(length=raw.count(b"\n"), label=f"{path.name}: importing", file=sys.stderr,
                                       show_pos=True) as bar:
                    try:
                        rows = tabular.rows(raw, media, layout, match, problems)
                        # A dry run writes each file too, inside the transaction it then rolls back: castings
                        # see the movies and actors the import would create.
                        report = imports.run(layout, match, rows, problems, dry_run=False, progress=bar.update)
                    except FileError as exc:
                        raise click.ClickException(f"{path}: {exc}") from None
                    bar.update(bar.length - bar.pos)
                report.dry_run = dry_run
                reports.append((path, report))
            if dry_run or any(report.problems for _, report in reports):
                raise _Stop(dry_run)

        written = False
        try:
            run(work, begin=_unbounded, finish=version.finish_write)
            written = True
        except _Stop:
            pass
        except ApiError as exc:
            raise click.ClickException(f"{exc.message} (nothing was written)") from None
        for path, report in reports:
            _print_report(path, report, written)
        problems = sum(len(report.problems) for _, report in reports)
        if written:
            click.echo(f"written, in one transaction: GET /history?request_id={g.request_id} lists its changes",
                       err=True)
        else:
            click.echo("nothing was written" + (" (dry run)" if dry_run else f": {problems:,} problem"
                                                + ("s" * (problems != 1))), err=True)
        if problems:
            sys.exit(1)

    @app.cli.command("export")
    @click.argument("kind", metavar="TYPE", type=click.Choice(KIND_ORDER))
    @click.option("--format", "format_", type=click.Choice(sorted(FORMATS)), default="csv", show_default=True)
    @click.option("--output", "-o", default=None,
                  help="Where to write the file (default: TYPE-YYYY-MM-DD.csv here; - for standard output).")
    def export(kind: str, format_: str, output: str | None):
        """Export every movie, actor or casting as a CSV or NDJSON file, from one snapshot of the catalogue."""
        media = FORMATS[format_]
        name = output or f"{kind}-{dt.datetime.now(dt.UTC).date().isoformat()}.{EXTENSIONS[media]}"
        params, columns = EXPORT_QUERIES[kind].model_validate({}), LAYOUTS[kind].columns
        snapshot = exports.snapshot(kind, params, columns, media, count=True, unbounded=True)
        out = sys.stdout.buffer if name == "-" else open(name, "wb")  # noqa: SIM115 (closed below)
        try:
            with click.progressbar(length=snapshot.total, label=f"{kind}: exporting", file=sys.stderr,
                                   show_pos=True) as bar:
                for chunk in snapshot.chunks(tabular.Writer(columns, media), progress=bar.update):
                    out.write(chunk)
        finally:
            snapshot.close()
            if out is not sys.stdout.buffer:
                out.close()
        click.echo(f"wrote {snapshot.total:,} {kind} to {name} (catalogue version {snapshot.version})", err=True)
