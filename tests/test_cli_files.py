"""`flask import` and `flask export` (docs/import-export.md): several files in one transaction, castings naming the
movies and actors the same import creates, all or nothing, dry runs, no HTTP limit; exports from one snapshot with
their end line; and the documented samples, which import cleanly over HTTP too."""

from __future__ import annotations

import re

import pytest

from casting.config import MAX_IMPORT_ROWS
from tests.api.test_imports import CSV, csv_text, outcome, uploader
from tests.utils.environment import ROOT
from tests.utils.records import row_counts

SAMPLES = ROOT / "docs" / "samples"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def upload(client, producer):
    return uploader(client, producer)


def request_id_of(result) -> str:
    return re.search(r"request_id=(cli-[0-9a-f]{32})", result.stderr).group(1)


def test_the_documented_samples_import_cleanly_over_http_and_again_change_nothing(api, upload):
    for kind in ("movies", "actors", "castings"):
        report = outcome(upload(kind, (SAMPLES / f"{kind}.csv").read_bytes()))
        assert report["problems"] == [] and report["created"] == report["rows"] > 0, (kind, report)
    for kind in ("movies", "actors", "castings"):
        report = outcome(upload(kind, (SAMPLES / f"{kind}.csv").read_bytes()))
        assert report["unchanged"] == report["rows"], (kind, report)
    harbour = api("GET", "/movies?q=Harbour").json["movies"][0]
    assert [(a["name"], a.get("character")) for a in harbour["actors"]] == [
        ("Amara Okafor", "Captain Ada Reyes"), ("Hiroshi Tanaka", "The Lighthouse Keeper"), ("June Whitaker", None)]


def test_several_files_are_one_transaction_and_castings_find_what_it_creates(app, api, cli):
    files = [str(SAMPLES / name) for name in ("castings.csv", "movies.csv", "actors.csv")]  # castings named first
    result = cli("import", *files)
    assert result.exit_code == 0, result.stderr
    assert "castings, 5 rows: 5 created" in result.stderr and "written, in one transaction" in result.stderr
    assert row_counts(app) == (3, 4, 5)
    made = api("GET", f"/history?per_page=100&request_id={request_id_of(result)}").json
    assert made["total"] == 3 + 4 + 3 + 5  # each record created, each cast movie updated, each casting on its actor
    assert {entry["subject"] for entry in made["history"]} == {made["history"][0]["subject"]}
    assert made["history"][0]["subject"].startswith("cli|")
    again = cli("import", *files)
    assert again.exit_code == 0 and "castings, 5 rows: 0 created, 0 updated, 5 unchanged" in again.stderr


def test_a_dry_run_says_what_would_change_and_writes_nothing(app, cli):
    result = cli("import", "--dry-run", *(str(SAMPLES / f"{kind}.csv") for kind in ("movies", "actors", "castings")))
    assert result.exit_code == 0, result.stderr
    assert "castings, 5 rows: 5 would be created" in result.stderr and "nothing was written (dry run)" in result.stderr
    assert row_counts(app) == (0, 0, 0)


def test_a_problem_in_any_file_writes_none_of_them_and_every_problem_is_printed(app, cli, tmp_path):
    bad = tmp_path / "actors.csv"
    bad.write_text(csv_text("name,age,gender", "Amara Okafor,34,female", ",40,male", "Tomás Ferreira,151,male"))
    result = cli("import", str(SAMPLES / "movies.csv"), str(bad))
    assert result.exit_code == 1
    assert f"{bad}:3: name: is required" in result.stderr and f"{bad}:4: age: must be less than or equal to 150" \
        in result.stderr
    assert "movies, 3 rows: 3 would be created" in result.stderr and "nothing was written: 2 problems" in result.stderr
    assert row_counts(app) == (0, 0, 0)


def test_the_kind_comes_from_the_header_or_from_type(app, cli, tmp_path):
    odd = tmp_path / "people.txt"
    odd.write_text(csv_text("name", "Amara Okafor"))
    assert cli("import", str(odd)).exit_code == 2  # a usage error: nothing tells what it holds
    ndjson = tmp_path / "actors.ndjson"
    ndjson.write_text('{"name": "Amara Okafor", "age": 34, "gender": "female"}\n')
    assert cli("import", str(ndjson)).exit_code == 0
    assert cli("import", "--type", "actors", "--match", "natural", str(ndjson)).stderr.count("1 unchanged") == 1


def test_the_command_line_takes_more_rows_than_http_does_all_or_nothing(app, cli, tmp_path, upload):
    """Past 100,000 rows: more than one batch, written one after the other in the one transaction; a bad last
    row, found after the first batch was written, still leaves nothing written."""
    rows = [f"Actor {i},{i % 100},female" for i in range(MAX_IMPORT_ROWS + 1)]
    big = tmp_path / "actors.csv"
    big.write_text(csv_text("name,age,gender", *rows[:-1], "Actor last,151,female"))
    assert upload("actors", big.read_bytes(), CSV).status_code == 413
    refused = cli("import", str(big))
    assert refused.exit_code == 1 and f"{big}:{MAX_IMPORT_ROWS + 2}: age: must be less than" in refused.stderr
    assert row_counts(app) == (0, 0, 0)
    big.write_text(csv_text("name,age,gender", *rows))
    result = cli("import", str(big))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert row_counts(app) == (0, MAX_IMPORT_ROWS + 1, 0)


def test_export_writes_the_whole_list_with_its_end_line(app, api, cli, tmp_path):
    assert cli("import", *(str(SAMPLES / f"{kind}.csv") for kind in ("movies", "actors", "castings"))).exit_code == 0
    target = tmp_path / "castings.csv"
    result = cli("export", "castings", "-o", str(target))
    assert result.exit_code == 0 and f"wrote 5 castings to {target}" in result.stderr
    assert target.read_bytes() == api("GET", "/castings/export").get_data()
    printed = cli("export", "movies", "--format", "ndjson", "-o", "-")
    assert printed.stdout.splitlines()[-1] == '{"end":true,"rows":3}'
