"""Command-line tools: `flask --app app seed` and `flask --app app token ROLE`."""

from __future__ import annotations

import datetime as dt
import json

import click
from flask import Flask, current_app
from sqlalchemy import select

import history
import idempotency
import openapi
from models import Actor, Movie, db
from roles import ROLE_PERMISSIONS

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
    def token(role: str, expires_in: int):
        """Print a token for ROLE from the local issuer (development only)."""
        issuer = current_app.extensions["local_issuer"]
        if issuer is None:
            raise click.ClickException("AUTH0_DOMAIN is set: tokens come from Auth0, not from this command")
        click.echo(issuer.mint(role, expires_in=expires_in))

    @app.cli.command("openapi")
    def openapi_document():
        """Print the OpenAPI document (the committed openapi.json is this output)."""
        click.echo(json.dumps(openapi.build(current_app), indent=2))

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
