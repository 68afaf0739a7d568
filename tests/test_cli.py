"""The `flask` commands of casting/cli.py: `flask seed` and the demo catalogue it adds. (`flask token` is tested with
the local issuer, in tests/tokens/test_local_issuer.py; the purge commands with what they purge, in
tests/web/test_idempotency.py and tests/api/test_history.py; `flask openapi` in tests/openapi/test_document.py.)"""

from __future__ import annotations

from sqlalchemy import func, select

from casting.cli import DEMO_ACTORS, DEMO_MOVIES, seed_demo
from models import Movie, db, movie_actors


def test_seed_loads_a_dozen_of_each_and_is_idempotent(app):
    with app.app_context():
        assert seed_demo() == (len(DEMO_MOVIES), len(DEMO_ACTORS))
        castings = db.session.scalar(select(func.count()).select_from(movie_actors))
        assert seed_demo() == (0, 0)
        assert db.session.scalar(select(func.count()).select_from(Movie)) == len(DEMO_MOVIES) >= 12
        assert db.session.scalar(select(func.count()).select_from(movie_actors)) == castings > 0


def test_seed_command(app):
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0 and "seeded 12 movies and 12 actors" in result.output
    assert "seeded 0 movies and 0 actors" in app.test_cli_runner().invoke(args=["seed"]).output
