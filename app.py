"""The Casting Agency API: create_app() builds the Flask app (gunicorn runs `app:create_app()`). What lives
where: casting/__init__.py."""

from __future__ import annotations

import os

from flask import Flask
from flask_cors import CORS

import auth
from casting import cli, config, errors
from casting.api import actors, docs, health, history, movies, transfers
from casting.catalogue import memo
from casting.dashboard import views as dashboard
from casting.web import followers, middleware, parsing, ratelimit, transactions
from models import db


def create_app(test_config: dict | None = None) -> Flask:
    # No app-wide static folder: the dashboard and the docs serve their own files.
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    app.json.sort_keys = False
    app.config.from_mapping(config.load(app.instance_path))
    os.makedirs(app.instance_path, exist_ok=True)
    if test_config:
        app.config.from_mapping(test_config)
    config.resolve(app.config, app.instance_path)
    if app.config["PRODUCTION"]:
        app.debug = False
    if not app.testing:
        middleware.configure_logging()

    middleware.init_app(app)
    db.init_app(app)
    followers.init_app(app)
    transactions.init_app(app)
    memo.init_app(app)
    CORS(app, origins=config.cors_origins(app.config), max_age=600,
         allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key",
                        followers.HEADER],
         expose_headers=["ETag", "Location", "Content-Disposition", "Idempotent-Replayed", "Retry-After",
                         "X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                         followers.HEADER])
    auth.init_app(app)
    ratelimit.init_app(app)
    errors.register(app)
    cli.register(app)
    app.url_map.converters["id"] = parsing.IdConverter
    app.url_map.strict_slashes = False
    for resource in (movies, actors, transfers, history, health, docs):
        app.register_blueprint(resource.bp)
    dashboard.init_app(app)
    return app
