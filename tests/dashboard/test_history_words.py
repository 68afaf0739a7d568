"""Issue 22, the dashboard's history: entries name people and read true later (in Chromium).

Someone ("Dana Whitfield", with an email) changes records through the API; the page shows each entry "by Dana
Whitfield" (the email on hover), and "by you" only for the signed-in person's own subject (not for someone else who
picked the same name). The records of the other side are named as the entry kept them, as they were then, with the
current name beside them when it differs; a movie's delete and restore read as such on its actors; a change of
character or billing reads as one. Entries made before snapshots kept names (ids only) still read as they did.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from models import db, history
from tests.dashboard.pages import (
    PHONE,
    axe_violations,
    expect,
    open_actor,
    overflow,
    settle,
    shoot,
    stray_text,
)
from tests.utils.records import api_as, new_actor

DANA = {"name": "Dana Whitfield", "email": "dana@agency.example"}
BY_DANA = "by Dana Whitfield on "
WHEN = r"\d{1,2} \w+ \d{4}, \d{2}:\d{2}"  # en-GB: "28 November 2026, 13:05"








def call(client, who: dict, method: str, path: str, json=None, status: int = 200) -> dict:
    response = client.open(path, method=method, headers=who, json=json)
    assert response.status_code == status, response.json
    return response.json


def history_of(dialog):
    return dialog.get_by_role("list", name="History").get_by_role("listitem")


def said(*sentences: str) -> list[re.Pattern]:
    """Each entry as a whole: `what` "by WHO on WHEN" `rest`, WHO and WHEN as given, or Dana and any time."""
    patterns = []
    for sentence in sentences:
        what, _, rest = sentence.partition("¦")
        who = "" if " by " in what else BY_DANA
        patterns.append(re.compile("^" + re.escape(what + (" " if who else "") + who) + WHEN + re.escape(rest) + "$"))
    return patterns


def sign_in_as(page, role_label: str, name: str) -> None:
    page.goto("/")
    page.get_by_role("textbox", name="Your name").fill(name)
    page.get_by_role("button", name=role_label).click()
    expect(page.locator("#role-badge")).to_have_text(role_label)


def test_history_names_people_and_records_as_they_were(browsing, client, producer, headers, axe):
    dana = headers("executive-producer", **DANA)
    dev = new_actor(api_as(client, dana), "Dev Patel", 36, "male")["id"]
    riz = new_actor(api_as(client, dana), "Riz Ahmed", 44, "male")["id"]
    movie = call(client, dana, "POST", "/movies", {
        "title": "Echoes of June", "release_date": "2024-06-21",
        "cast": [{"actor_id": dev, "character": "Young Arjun", "billing": 1}, {"actor_id": riz}]}, 201)["movie"]
    path = f"/movies/{movie['id']}"
    call(client, dana, "PUT", f"{path}/actors/{dev}", {"character": "Arjun", "billing": 1})
    call(client, dana, "PUT", f"{path}/cast", {"cast": [{"actor_id": riz, "character": "Sam", "billing": 1},
                                                      {"actor_id": dev, "character": "Arjun", "billing": 2}]})
    call(client, dana, "PATCH", path, {"title": "Echoes of July"})
    call(client, dana, "DELETE", path)
    call(client, dana, "POST", f"{path}/restore", status=201)
    call(client, dana, "PATCH", f"/actors/{riz}", {"name": "Riz Ahmed Khan"})
    # Someone else who picked the page's name, in another role: another person, not "you".
    namesake = headers("casting-director", name="Avery Quinn")
    call(client, namesake, "PATCH", f"/actors/{dev}", {"age": 37})

    page = browsing.page(PHONE)
    sign_in_as(page, "Executive Producer", "Avery Quinn")
    actor = open_actor(page, "Dev Patel", "phone")
    expect(history_of(actor)).to_have_text(said(
        "Age changed from 36 to 37 by Avery Quinn on ",
        "“Echoes of July” was restored, with them cast again as Arjun at billing 2",
        "“Echoes of July” was deleted",
        "Moved to billing 2 in “Echoes of June” (now “Echoes of July”)",
        "Now plays Arjun (was Young Arjun) in “Echoes of June” (now “Echoes of July”)",
        "Cast as Young Arjun in the new movie “Echoes of June” (now “Echoes of July”) at billing 1",
        "Created",
    ))
    expect(history_of(actor).nth(1).locator(".subject")).to_have_attribute("title", DANA["email"])
    expect(history_of(actor).first.locator(".subject")).not_to_have_attribute("title", re.compile("."))
    actor.get_by_role("region", name="History").scroll_into_view_if_needed()
    check(page, axe, "i22-history-producer-phone-actor")

    actor.get_by_role("button", name="Echoes of July", exact=True).click()
    film = page.get_by_role("dialog", name="Echoes of July")
    expect(history_of(film)).to_have_text(said(
        "Restored¦, with Riz Ahmed (now Riz Ahmed Khan) as Sam and Dev Patel as Arjun in the cast again",
        "Deleted",
        "Title changed from “Echoes of June” to “Echoes of July”",
        "Riz Ahmed (now Riz Ahmed Khan) now plays Sam and moved to billing 1; Dev Patel moved to billing 2",
        "Dev Patel now plays Arjun (was Young Arjun)",
        "Created¦, with Dev Patel as Young Arjun and Riz Ahmed (now Riz Ahmed Khan) in the cast",
    ))

    # The person's own change: "by you".
    film.get_by_role("button", name="Move Dev Patel up").click()
    expect(film.get_by_role("status")).to_have_text("Dev Patel moved to billing 1.")
    expect(history_of(film)).to_have_count(7)
    expect(history_of(film).first).to_have_text(re.compile(
        r"^Dev Patel moved to billing 1; Riz Ahmed Khan moved to billing 2 by you on " + WHEN + "$"))
    film.get_by_role("region", name="History").scroll_into_view_if_needed()
    check(page, axe, "i22-history-producer-phone-movie")

    film.get_by_role("button", name="Riz Ahmed Khan", exact=True).click()
    riz_profile = page.get_by_role("dialog", name="Riz Ahmed Khan")
    expect(history_of(riz_profile)).to_have_text(said(
        "Moved to billing 2 in “Echoes of July” by you on ",
        "Name changed from “Riz Ahmed” to “Riz Ahmed Khan”",
        "“Echoes of July” was restored, with them cast again as Sam at billing 1",
        "“Echoes of July” was deleted",
        "Now plays Sam and moved to billing 1 in “Echoes of June” (now “Echoes of July”)",
        "Cast in the new movie “Echoes of June” (now “Echoes of July”)",
        "Created",
    ))


def test_entries_from_before_names_were_kept_still_read(browsing, app, client, producer, headers, axe):
    """Entries whose snapshots hold ids only (made before issue 22) name the other side by its current name, or
    "actor #12" when it is gone, as the page always did; and they name their author by subject."""
    someone = headers("executive-producer", sub="auth0|64f1c2a9e3b0c12d4e5f6a7b")
    swinton = new_actor(api_as(client, someone), "Tilda Swinton", 66, "female")["id"]
    ali = new_actor(api_as(client, someone), "Mahershala Ali", 51, "male")["id"]
    call(client, someone, "POST", "/movies", {"title": "Orlando", "release_date": "1992-09-01",
                                              "actor_ids": [swinton, ali]}, 201)
    call(client, someone, "DELETE", f"/actors/{ali}")
    call(client, someone, "PATCH", f"/actors/{swinton}", {"name": "Tilda Swinton-Byrne"})
    with app.app_context():  # as entries were kept before snapshots named the cast
        for row in db.session.execute(select(history)).all():
            old = {}
            for which in ("before", "after"):
                if getattr(row, which) is not None:
                    old[which] = {k: v for k, v in getattr(row, which).items() if k not in ("actors", "movies")}
            db.session.execute(history.update().where(history.c.id == row.id).values(other=None, editor_name=None,
                                                                                   editor_email=None, **old))
        db.session.commit()

    page = browsing.page()
    page.goto("/")
    page.get_by_role("button", name="Casting Director").click()
    page.get_by_role("list", name="Movies").get_by_role("button", name="Orlando", exact=True).click()
    film = page.get_by_role("dialog", name="Orlando")
    by = "by auth0|64f1c2a9e3b0c12d4e5f6a7b on "
    expect(history_of(film)).to_have_text(said(
        f"Actor #{ali} was removed from the cast {by}",
        f"Created {by}¦, with Tilda Swinton-Byrne and actor #{ali} in the cast",
    ))
    check(page, axe, "i22-history-director-desktop-old-entries")


def check(page, axe, shot: str) -> None:
    settle(page)
    shoot(page, shot)
    assert stray_text(page) == [] and overflow(page) == [], shot
    if axe:
        assert axe_violations(page, axe) == [], shot
