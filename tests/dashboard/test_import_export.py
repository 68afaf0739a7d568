"""Files from the dashboard, in Chromium (casting/dashboard/static/files.js): each role's export and import buttons,
exports that download what the API answers (with the list's filters), failures explained, an import's dry run and
its report, the import for real once confirmed (once, however many clicks), refusals that keep the chosen file,
the keyboard, and the views at both widths audited by axe-core and shot for people to look at."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from casting.tokens.roles import ROLE_PERMISSIONS
from tests.dashboard.pages import (
    PHONE,
    SHORT_ROLE,
    VIEWPORTS,
    axe_violations,
    expect,
    overflow,
    page_alerts,
    settle,
    shoot,
    sign_in,
    stray_text,
)
from tests.utils.records import new_actor, new_movie, row_counts

KINDS_IMPORTED = {"casting-assistant": [], "casting-director": ["actors", "castings"],
                  "executive-producer": ["movies", "actors", "castings"]}

GOOD_MOVIES = b"title,release_date\nFirst Light,2021-03-04\nSecond Wind,2022-05-06\nThird Act,2023-07-08\n"
# Line 3's title is empty, line 5's date is none: both reported, nothing written.
BAD_MOVIES = (b"title,release_date\nFirst Light,2021-03-04\n,2022-05-06\nThird Act,2023-07-08\n"
              b"Fourth Wall,2023-02-30\n")


def choose(dialog, name: str, content: bytes, mime: str = "text/csv") -> None:
    dialog.get_by_label("File", exact=True).set_input_files({"name": name, "mimeType": mime, "buffer": content})


def open_import(page):
    page.get_by_role("button", name="Import a file…").click()
    dialog = page.get_by_role("dialog", name="Import a file")
    expect(dialog).to_be_visible()
    return dialog


def imports_sent(page) -> list[dict]:
    """The POST /imports the page sends: their query, Idempotency-Key and body."""
    sent = []

    def seen(request):
        if request.method == "POST" and urlsplit(request.url).path == "/imports":
            query = {name: values[0] for name, values in parse_qs(urlsplit(request.url).query).items()}
            sent.append({"query": query, "key": request.headers.get("idempotency-key"),
                         "type": request.headers.get("content-type"), "body": request.post_data_buffer})

    page.on("request", seen)
    return sent


def file_kept(dialog, name: str) -> None:
    """The file input still holds the chosen file."""
    names = dialog.get_by_label("File", exact=True).evaluate("(input) => [...input.files].map((file) => file.name)")
    assert names == [name]


# --- who sees what ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(ROLE_PERMISSIONS))
def test_each_role_sees_the_file_buttons_its_permissions_allow(browsing, role):
    page = browsing.page()
    sign_in(page, role)
    # Every role reads, so every role exports: both lists and the castings, in both formats.
    for kind in ("movies", "actors", "castings"):
        for label in ("CSV", "NDJSON"):
            expect(page.get_by_role("button", name=f"Export {label} of {kind}", exact=True)).to_be_visible()
    importing = page.get_by_role("button", name="Import a file…")
    if not KINDS_IMPORTED[role]:
        expect(importing).to_have_count(0)
        expect(page.locator("#import-type option")).to_have_count(0)
        return
    dialog = open_import(page)
    # The kinds offered are those the role's single writes allow (a director imports no movies).
    kinds = dialog.get_by_label("The file holds").locator("option")
    expect(kinds).to_have_count(len(KINDS_IMPORTED[role]))
    assert kinds.evaluate_all("(options) => options.map((o) => o.value)") == KINDS_IMPORTED[role]
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(importing).to_be_focused()


# --- exports ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_an_export_downloads_what_the_api_answers_for_the_list_shown(browsing, client, producer, api, fmt):
    for title, day in (("Ice Road", "2011-01-02"), ("Iceland", "2012-03-04"), ("Summer =1+1", "2013-05-06")):
        new_movie(api, title, day)
    pine = new_actor(api, "Chris Pine", 45, "male")["id"]
    api("PATCH", f"/movies/{new_movie(api, 'Ice Age', '2002-03-15')['id']}", json={"actor_ids": [pine]})
    page = browsing.page()
    sign_in(page, "casting-assistant")
    # What the list shows: a search, and a sort other than the default.
    page.get_by_label("Search titles").fill("ice")
    page.locator("#movies-filter-sort").select_option("title")
    expect(page.locator("#movies-status")).to_have_text("3 movies match")
    label = {"csv": "CSV", "ndjson": "NDJSON"}[fmt]
    with page.expect_download() as waiting:
        page.get_by_role("button", name=f"Export {label} of movies", exact=True).click()
    download = waiting.value
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert download.suggested_filename == f"movies-{today}.{fmt}"
    answer = client.get(f"/movies/export?q=ice&sort=title&format={fmt}", headers=producer)
    assert answer.status_code == 200
    saved = Path(download.path()).read_bytes()
    assert saved == answer.data
    assert b"Ice Age" in saved and b"Summer" not in saved  # the list's filter, not the whole catalogue
    expect(page.get_by_role("status")).to_contain_text(f"Exported 3 movies to movies-{today}.{fmt}.")

    # The castings, which have no list: all of them.
    with page.expect_download() as waiting:
        page.get_by_role("button", name=f"Export {label} of castings", exact=True).click()
    assert waiting.value.suggested_filename == f"castings-{today}.{fmt}"
    assert Path(waiting.value.path()).read_bytes() == client.get(f"/castings/export?format={fmt}",
                                                                 headers=producer).data


def test_an_export_that_fails_says_why(browsing, api):
    new_movie(api, "Ice Road", "2011-01-02")
    page = browsing.page()
    sign_in(page, "casting-director")
    button = page.get_by_role("button", name="Export CSV of movies", exact=True)
    page.route(re.compile(r".*/movies/export\?.*"), lambda route: route.fulfill(
        status=503, headers={"Retry-After": "4"}, content_type="application/json",
        body=json.dumps({"success": False, "error": 503, "message": "the database is unavailable"})))
    button.click()
    expect(page_alerts(page)).to_have_text(re.compile(
        r"^The movies could not be exported: The service is temporarily unavailable \(the database is unavailable\)"
        r"\. Please try again in 4 seconds\."))
    expect(button).to_be_enabled()

    # A stream cut short (no end line) is not saved as if it were whole.
    page.unroute(re.compile(r".*/movies/export\?.*"))
    page.route(re.compile(r".*/movies/export\?.*"), lambda route: route.fulfill(
        status=200, content_type="text/csv", headers={"Content-Disposition": 'attachment; filename="movies.csv"'},
        body="id,title,release_date\n1,Ice Road,2011-01-02\n"))
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    button.click()
    expect(page_alerts(page)).to_have_text(
        "The movies could not be exported: the download was cut short before its end. Try again.×")
    assert downloads == []


# --- imports ----------------------------------------------------------------------------------------------------


def test_a_dry_run_reports_each_problem_and_writes_nothing(browsing, app):
    page = browsing.page()
    sign_in(page, "executive-producer")
    sent = imports_sent(page)
    dialog = open_import(page)
    choose(dialog, "movies.csv", BAD_MOVIES)
    expect(dialog.get_by_label("The file holds")).to_have_value("movies")  # from its columns
    dialog.get_by_role("button", name="Check the file").click()
    expect(dialog.get_by_role("heading", name="Problems in movies.csv")).to_be_focused()
    expect(dialog.locator(".import-summary")).to_contain_text(
        "2 problems (below): nothing can be imported until they are corrected.")
    problems = dialog.get_by_role("region", name="Problems by line").locator("tbody tr")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_have_text("3titleis required")
    expect(problems.nth(1)).to_have_text(re.compile(r"^5release_date.*real calendar date"))
    counts = dialog.get_by_role("definition")
    expect(counts).to_have_text(["2", "0", "0"])  # the two good rows would be created
    expect(dialog.get_by_role("button", name=re.compile(r"^Import \d"))).to_be_hidden()
    file_kept(dialog, "movies.csv")
    assert row_counts(app) == (0, 0, 0)
    assert [request["query"] for request in sent] == [{"type": "movies", "match": "natural", "dry_run": "true"}]
    assert sent[0]["type"] == "text/csv" and sent[0]["body"] == BAD_MOVIES


def test_a_good_file_is_imported_once_after_confirmation(browsing, app):
    page = browsing.page()
    sign_in(page, "executive-producer")
    sent = imports_sent(page)
    dialog = open_import(page)
    choose(dialog, "movies.csv", GOOD_MOVIES)
    dialog.get_by_role("button", name="Check the file").click()
    expect(dialog.get_by_role("heading", name="Checked movies.csv")).to_be_focused()
    expect(dialog.get_by_role("definition")).to_have_text(["3", "0", "0"])
    assert row_counts(app) == (0, 0, 0)  # checked, not written
    confirm = dialog.get_by_role("button", name="Import 3 movies")
    confirm.dblclick()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status")).to_contain_text(
        "Imported movies.csv: 3 movies created, 0 updated and 0 unchanged.")
    movies = page.get_by_role("list", name="Movies")
    for title in ("First Light", "Second Wind", "Third Act"):
        expect(movies.get_by_role("button", name=title, exact=True)).to_be_visible()
    assert row_counts(app) == (3, 0, 0)
    real = [request for request in sent if request["query"]["dry_run"] == "false"]
    assert len(real) == 1, sent  # a double click sends it once
    assert real[0]["body"] == GOOD_MOVIES and real[0]["key"] and real[0]["key"] != sent[0]["key"]

    # The same file again: every row unchanged, nothing to confirm.
    dialog = open_import(page)
    choose(dialog, "movies.csv", GOOD_MOVIES)
    dialog.get_by_role("button", name="Check the file").click()
    expect(dialog.get_by_role("definition")).to_have_text(["0", "0", "3"])
    expect(dialog).to_contain_text("there is nothing to import")
    expect(dialog.get_by_role("button", name=re.compile(r"^Import \d"))).to_be_hidden()


def test_an_import_whose_answer_is_lost_is_sent_again_with_its_key(browsing, app):
    """The server imports the file but the answer never reaches the page: the page sends it again with the same
    Idempotency-Key, and the API answers from the first import instead of importing twice. When even the retries
    get no answer, the page says that pressing the button again is safe, and it is."""
    page = browsing.page()
    sign_in(page, "executive-producer")
    sent = imports_sent(page)
    dialog = open_import(page)
    choose(dialog, "movies.csv", GOOD_MOVIES)
    dialog.get_by_role("button", name="Check the file").click()
    lost = []

    def lose_answers(route):
        if "dry_run=false" in route.request.url and len(lost) < 4:
            if not lost:
                route.fetch()  # the server imports it; its answer is lost on the way back
            lost.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route(re.compile(r".*/imports\?.*"), lose_answers)
    dialog.get_by_role("button", name="Import 3 movies").click()
    expect(dialog.get_by_role("alert")).to_contain_text(
        "The server cannot be reached. Check your connection and try again. Press “Import 3 movies” again: the file "
        "will not be imported twice.")
    assert len(lost) == 4  # the first attempt and its three retries
    assert row_counts(app) == (3, 0, 0)
    dialog.get_by_role("button", name="Import 3 movies").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status")).to_contain_text("Imported movies.csv: 3 movies created")
    assert row_counts(app) == (3, 0, 0)
    real = [request for request in sent if request["query"]["dry_run"] == "false"]
    assert len(real) == 5 and len({request["key"] for request in real}) == 1, real


def test_a_director_imports_by_keyboard_and_ndjson(browsing, app, api):
    """Actors in NDJSON, matched by name: one known (updated), one new; every step from the keyboard but the
    browser's own file picker."""
    new_actor(api, "Riz Ahmed", 43, "male")
    body = b'{"name":"Riz Ahmed","age":44,"gender":"male"}\n{"name":"Dev Patel","age":36,"gender":"male"}\n'
    page = browsing.page(PHONE)
    sign_in(page, "casting-director")
    opener = page.get_by_role("button", name="Import a file…")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Import a file")
    expect(dialog.get_by_label("File", exact=True)).to_be_focused()
    choose(dialog, "actors.ndjson", body, "application/x-ndjson")
    expect(dialog.get_by_label("The file holds")).to_have_value("actors")
    dialog.get_by_role("button", name="Check the file").focus()
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("definition")).to_have_text(["1", "1", "0"])
    for _ in range(10):  # from the report's heading to the import button, by Tab
        if dialog.get_by_role("button", name="Import 2 actors").evaluate("(b) => b === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Import 2 actors")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status")).to_contain_text("1 actor created, 1 updated and 0 unchanged")
    assert row_counts(app) == (0, 2, 0)
    page.get_by_role("tab", name="Actors").click()
    expect(page.get_by_role("list", name="Actors")).to_contain_text("Riz Ahmed44 years old")


def test_refusals_are_explained_and_keep_the_file(browsing, app, issuer):
    page = browsing.page()
    sign_in(page, "casting-director")
    dialog = open_import(page)

    # 413: more rows than an HTTP import takes.
    rows = b"name,age,gender\n" + b"".join(b"Actor %d,30,female\n" % n for n in range(100_001))
    choose(dialog, "everyone.csv", rows)
    dialog.get_by_role("button", name="Check the file").click()
    expect(dialog.get_by_role("alert")).to_contain_text(re.compile(
        r"The file is too large for the page: An import over HTTP takes at most 20 MiB and 100,000 rows: load a "
        r"bigger file with the command line, `flask import FILE`"))
    expect(dialog.get_by_label("File", exact=True)).to_have_attribute("aria-invalid", "true")
    file_kept(dialog, "everyone.csv")

    # 400: a file that cannot be read.
    choose(dialog, "broken.csv", b'name,age,gender\n"Open quote,30,female\n')
    expect(dialog.get_by_role("alert")).to_have_count(1)
    expect(dialog.get_by_role("alert")).to_have_text("")  # choosing another file clears what was said
    dialog.get_by_role("button", name="Check the file").click()
    expect(dialog.get_by_role("alert")).to_contain_text("The file cannot be read: Request body")
    file_kept(dialog, "broken.csv")

    # 403: the token no longer allows it (the API's own answer, to an assistant's token).
    assistant = issuer.mint("casting-assistant")
    page.route(re.compile(r".*/imports\?.*"), lambda route: route.continue_(
        headers={**route.request.headers, "authorization": f"Bearer {assistant}"}))
    choose(dialog, "actors.csv", b"name,age,gender\nDev Patel,36,male\n")
    dialog.get_by_role("button", name="Check the file").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Not allowed: you are signed in as Casting Director")
    file_kept(dialog, "actors.csv")
    assert row_counts(app) == (0, 0, 0)


def test_a_long_report_shows_the_first_problems_and_counts_the_rest(browsing, app):
    page = browsing.page(PHONE)
    sign_in(page, "executive-producer")
    dialog = open_import(page)
    choose(dialog, "movies.csv", b"title,release_date\n" + b"".join(b"Reel %d,2020-02-31\n" % n for n in range(75)))
    dialog.get_by_role("button", name="Check the file").click()
    problems = dialog.get_by_role("region", name="Problems by line")
    expect(problems.locator("tbody tr")).to_have_count(50)
    expect(problems.locator("tbody tr").last).to_contain_text("51release_date")
    expect(dialog).to_contain_text("… and 25 more problems not shown here.")
    # The list scrolls by itself, and takes the focus to be scrolled from the keyboard.
    assert problems.evaluate("(box) => box.scrollHeight > box.clientHeight")
    problems.focus()
    page.keyboard.press("End")
    page.wait_for_function("() => document.activeElement.scrollTop > 0")
    assert overflow(page) == []
    assert row_counts(app) == (0, 0, 0)


def test_an_import_refused_after_a_clean_check_shows_the_new_report(browsing, app, api):
    """Checked clean, then someone else deletes the actor a row names by id: the import for real is a 422, its
    report shown, nothing written, and nothing left to confirm."""
    riz = new_actor(api, "Riz Ahmed", 43, "male")["id"]
    body = f"id,name,age,gender\n{riz},Riz Ahmed,44,male\n,Dev Patel,36,male\n".encode()
    page = browsing.page()
    sign_in(page, "casting-director")
    dialog = open_import(page)
    choose(dialog, "actors.csv", body)
    dialog.get_by_label("Find existing records by").select_option("id")
    dialog.get_by_role("button", name="Check the file").click()
    expect(dialog.get_by_role("definition")).to_have_text(["1", "1", "0"])
    assert api("DELETE", f"/actors/{riz}").status_code == 200
    dialog.get_by_role("button", name="Import 2 actors").click()
    expect(dialog.get_by_role("alert")).to_contain_text(
        "Nothing was imported: the catalogue changed since the check, and the file now has 1 problem")
    expect(dialog.get_by_role("region", name="Problems by line")).to_contain_text(f"2idno actor with id {riz}")
    expect(dialog.get_by_role("button", name="Import 2 actors")).to_be_hidden()
    file_kept(dialog, "actors.csv")
    assert row_counts(app) == (0, 0, 0)


# --- what people see, at both widths ------------------------------------------------------------------------------


@pytest.mark.parametrize("width", list(VIEWPORTS))
@pytest.mark.parametrize("role", list(ROLE_PERMISSIONS))
def test_the_views_with_files_are_clean_and_accessible(browsing, api, axe, role, width):
    """The lists with their export buttons and, for the roles that import, the dialog with a dry run's report of
    problems: no stray text, nothing sticking out, and nothing for axe-core to report; shot for people to look at."""
    for n in range(3):
        new_movie(api, f"Reel {n}", f"201{n}-01-01")
        new_actor(api, f"Player {n}", 30 + n, "female")
    page = browsing.page(VIEWPORTS[width])
    sign_in(page, role)
    settle(page)
    audits = {}
    name = f"files-{SHORT_ROLE[role]}-{width}"
    shoot(page, f"{name}-lists")
    assert stray_text(page) == [] and overflow(page) == []
    if axe:
        audits["lists"] = axe_violations(page, axe)
    if KINDS_IMPORTED[role]:
        dialog = open_import(page)
        kind = KINDS_IMPORTED[role][0]
        bad = {"movies": BAD_MOVIES,
               "actors": b"name,age,gender\nDev Patel,36,male\n,40,female\nRiz Ahmed,151,male\n"}[kind]
        choose(dialog, f"{kind}.csv", bad)
        dialog.get_by_role("button", name="Check the file").click()
        expect(dialog.get_by_role("region", name="Problems by line").locator("tbody tr")).to_have_count(2)
        settle(page)
        shoot(page, f"{name}-import-report")
        assert stray_text(page) == [] and overflow(page) == []
        if axe:
            audits["import"] = axe_violations(page, axe)
        good = {"movies": GOOD_MOVIES, "actors": b"name,age,gender\nDev Patel,36,male\nPlayer 0,31,female\n"}[kind]
        choose(dialog, f"{kind}.csv", good)
        dialog.get_by_role("button", name="Check the file").click()
        expect(dialog.get_by_role("button", name=re.compile(r"^Import \d"))).to_be_visible()
        settle(page)
        shoot(page, f"{name}-import-ready")
        assert stray_text(page) == [] and overflow(page) == []
        if axe:
            audits["import-ready"] = axe_violations(page, axe)
    assert {view: found for view, found in audits.items() if found} == {}
    if not axe:
        pytest.skip("axe-core is not installed (`npm ci` installs it): all but the accessibility audit ran")

