"""Issue 22, the dashboard's cast: who plays whom, in billing order, a character changed in place, the order changed
by keyboard and pointer, and what a 412 does to each (in Chromium).

The page writes on a REQUIRE_IF_MATCH=true server (a change sent without If-Match would be a 428 there). "Someone
else" is another producer writing through the API of the same server, reading the ETag first. Each test checks what
the page shows, what the API stored, and the requests the page sent (method, path, If-Match, Idempotency-Key, body).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.dashboard.pages import (
    PHONE,
    UUID,
    axe_violations,
    expect,
    open_actor,
    overflow,
    settle,
    shoot,
    sign_in,
    stored,
    stray_text,
)
from tests.utils.records import api_as, new_actor

# --- the fixtures of tests/test_dashboard.py's safe-writes section, declared again for this module ------------












def record_writes(page) -> list[dict]:
    """The API writes the page sends, with their If-Match, Idempotency-Key and JSON body."""
    writes = []

    def seen(request):
        path = urlsplit(request.url).path
        if request.method != "GET" and path != "/dev/token":
            writes.append({"method": request.method, "path": path, "if_match": request.headers.get("if-match"),
                           "key": request.headers.get("idempotency-key"),
                           "body": request.post_data_json if request.post_data else None})

    page.on("request", seen)
    return writes


def check(page, axe, shot: str) -> None:
    settle(page)
    shoot(page, shot)
    assert stray_text(page) == [] and overflow(page) == [], shot
    if axe:
        assert axe_violations(page, axe) == [], shot


# --- a cast with roles ------------------------------------------------------------------------------------------


class Cast:
    """Echoes of June: Dev Patel as Arjun (1), Riz Ahmed as Sam (2), then Gal Gadot and Tilda Swinton, unbilled."""

    def __init__(self, client, producer):
        self.dev = new_actor(api_as(client, producer), "Dev Patel", 36, "male")["id"]
        self.riz = new_actor(api_as(client, producer), "Riz Ahmed", 44, "male")["id"]
        self.gal = new_actor(api_as(client, producer), "Gal Gadot", 41, "female")["id"]
        self.tilda = new_actor(api_as(client, producer), "Tilda Swinton", 66, "female")["id"]
        response = client.post("/movies", headers=producer, json={
            "title": "Echoes of June", "release_date": "2024-06-21",
            "cast": [{"actor_id": self.dev, "character": "Arjun", "billing": 1},
                     {"actor_id": self.riz, "character": "Sam", "billing": 2},
                     {"actor_id": self.gal}, {"actor_id": self.tilda}]})
        assert response.status_code == 201, response.json
        self.id = response.json["movie"]["id"]
        self.path = f"/movies/{self.id}"
        self.client, self.producer = client, producer

    def stored(self) -> list[tuple]:
        """(name, character, billing) of each casting, in the API's order."""
        return [(a["name"], a.get("character"), a.get("billing"))
                for a in stored(self.client, self.producer, self.path)["actors"]]


def open_echoes(page):
    page.get_by_role("list", name="Movies").get_by_role("button", name="Echoes of June", exact=True).click()
    movie = page.get_by_role("dialog", name="Echoes of June")
    expect(movie.get_by_role("heading", name="Cast (4)")).to_be_visible()
    return movie


def rows(movie):
    return movie.get_by_role("list", name="Cast (4)").get_by_role("listitem")


def shown(movie) -> None:
    """What each row of the cast says: the rank, the name and the character."""
    return rows(movie).locator(".cast-main")


def test_a_director_reorders_the_cast_by_keyboard_and_pointer(strict, client, producer, someone_else, axe):
    """The cast reads "Dev Patel as Arjun" in billing order, the rank beside each billed actor. "Move up" / "Move down"
    work from the keyboard (focus stays on the moved actor's button) and the pointer alike; each sends the whole cast
    in its new order with billing 1..n and the characters as they are, If-Match the movie's ETag on screen. "Move up"
    on an unbilled actor bills them after the billed ones; "Move down" on the last billed actor unbills them; an
    unbilled actor cannot move down."""
    cast = Cast(client, producer)
    page = strict.page()
    writes = record_writes(page)
    sign_in(page, "casting-director")
    movie = open_echoes(page)
    expect(shown(movie)).to_have_text(["Dev Patel as Arjun", "Riz Ahmed as Sam", "Gal Gadot", "Tilda Swinton"])
    expect(rows(movie).locator(".billing")).to_have_text(["Billing 1.", "Billing 2.", "Not billed–", "Not billed–"])
    expect(movie.get_by_role("button", name="Move Dev Patel up")).to_be_disabled()
    expect(movie.get_by_role("button", name="Move Gal Gadot down")).to_be_disabled()
    expect(movie.get_by_role("button", name="Move Tilda Swinton down")).to_be_disabled()
    check(page, axe, "i22-cast-director-desktop-movie")
    etags = [someone_else.etag(cast.path)]

    # The keyboard: Riz Ahmed up, from his button; focus follows him to the top, where only "down" is left.
    movie.get_by_role("button", name="Move Riz Ahmed up").focus()
    page.keyboard.press("Enter")
    expect(shown(movie)).to_have_text(["Riz Ahmed as Sam", "Dev Patel as Arjun", "Gal Gadot", "Tilda Swinton"])
    expect(movie.get_by_role("status")).to_have_text("Riz Ahmed moved to billing 1.")
    expect(movie.get_by_role("button", name="Move Riz Ahmed down")).to_be_focused()
    assert cast.stored() == [("Riz Ahmed", "Sam", 1), ("Dev Patel", "Arjun", 2), ("Gal Gadot", None, None),
                             ("Tilda Swinton", None, None)]
    etags.append(someone_else.etag(cast.path))
    page.keyboard.press("Space")  # and back down, still from the keyboard
    expect(shown(movie)).to_have_text(["Dev Patel as Arjun", "Riz Ahmed as Sam", "Gal Gadot", "Tilda Swinton"])
    expect(movie.get_by_role("button", name="Move Riz Ahmed down")).to_be_focused()
    etags.append(someone_else.etag(cast.path))

    # The pointer: an unbilled actor moved up is billed, after the billed ones (above the other unbilled).
    movie.get_by_role("button", name="Move Tilda Swinton up").click()
    expect(shown(movie)).to_have_text(["Dev Patel as Arjun", "Riz Ahmed as Sam", "Tilda Swinton", "Gal Gadot"])
    expect(rows(movie).locator(".billing")).to_have_text(["Billing 1.", "Billing 2.", "Billing 3.", "Not billed–"])
    expect(movie.get_by_role("status")).to_have_text("Tilda Swinton moved to billing 3.")
    assert cast.stored()[2] == ("Tilda Swinton", None, 3)
    etags.append(someone_else.etag(cast.path))
    # The last billed actor moved down leaves the billing.
    movie.get_by_role("button", name="Move Tilda Swinton down").click()
    expect(movie.get_by_role("status")).to_have_text("Tilda Swinton is no longer billed.")
    expect(rows(movie).locator(".billing")).to_have_text(["Billing 1.", "Billing 2.", "Not billed–", "Not billed–"])
    assert cast.stored() == [("Dev Patel", "Arjun", 1), ("Riz Ahmed", "Sam", 2), ("Gal Gadot", None, None),
                             ("Tilda Swinton", None, None)]

    dev, riz, gal, tilda = cast.dev, cast.riz, cast.gal, cast.tilda
    assert [(w["method"], w["path"], w["if_match"], w["body"]) for w in writes] == [
        ("PUT", f"{cast.path}/cast", etags[0], {"cast": [
            {"actor_id": riz, "character": "Sam", "billing": 1}, {"actor_id": dev, "character": "Arjun", "billing": 2},
            {"actor_id": gal}, {"actor_id": tilda}]}),
        ("PUT", f"{cast.path}/cast", etags[1], {"cast": [
            {"actor_id": dev, "character": "Arjun", "billing": 1}, {"actor_id": riz, "character": "Sam", "billing": 2},
            {"actor_id": gal}, {"actor_id": tilda}]}),
        ("PUT", f"{cast.path}/cast", etags[2], {"cast": [
            {"actor_id": dev, "character": "Arjun", "billing": 1}, {"actor_id": riz, "character": "Sam", "billing": 2},
            {"actor_id": tilda, "billing": 3}, {"actor_id": gal}]}),
        ("PUT", f"{cast.path}/cast", etags[3], {"cast": [
            {"actor_id": dev, "character": "Arjun", "billing": 1}, {"actor_id": riz, "character": "Sam", "billing": 2},
            {"actor_id": tilda}, {"actor_id": gal}]}),
    ]
    assert len({w["key"] for w in writes}) == 4 and all(UUID.fullmatch(w["key"]) for w in writes)


def test_a_character_is_changed_in_place(strict, client, producer, someone_else, axe):
    """"Edit Dev Patel's character" opens a field in the row: Enter saves (the casting's PUT with the character and
    the billing the actor has, so it stays), Escape and Cancel leave it as it was without sending anything (and do
    not close the profile), an empty field clears the character, and a 422 is shown beside the field, which keeps the
    focus."""
    cast = Cast(client, producer)
    page = strict.page(PHONE)
    writes = record_writes(page)
    sign_in(page, "executive-producer")
    movie = open_echoes(page)
    etags = [someone_else.etag(cast.path)]

    movie.get_by_role("button", name="Edit Dev Patel's character").click()
    field = movie.get_by_role("textbox", name="Character played by Dev Patel")
    expect(field).to_be_focused()
    expect(field).to_have_value("Arjun")
    check(page, axe, "i22-cast-producer-phone-character-editor")
    field.fill("Arjun / Young Arjun")
    field.press("Enter")
    expect(shown(movie).first).to_have_text("Dev Patel as Arjun / Young Arjun")
    expect(movie.get_by_role("status")).to_have_text("Dev Patel now plays Arjun / Young Arjun.")
    expect(movie.get_by_role("button", name="Edit Dev Patel's character")).to_be_focused()
    etags.append(someone_else.etag(cast.path))

    # Escape, then Cancel: nothing sent, the profile stays open.
    movie.get_by_role("button", name="Edit Riz Ahmed's character").click()
    movie.get_by_role("textbox", name="Character played by Riz Ahmed").fill("Samuel")
    page.keyboard.press("Escape")
    expect(movie.locator(".character-editor")).to_have_count(0)
    expect(movie).to_be_visible()
    expect(movie.get_by_role("button", name="Edit Riz Ahmed's character")).to_be_focused()
    expect(shown(movie).nth(1)).to_have_text("Riz Ahmed as Sam")
    movie.get_by_role("button", name="Edit Riz Ahmed's character").click()
    movie.get_by_role("button", name="Cancel").click()
    expect(movie.locator(".character-editor")).to_have_count(0)

    # A 422: beside the field.
    movie.get_by_role("button", name="Edit Gal Gadot's character").click()
    field = movie.get_by_role("textbox", name="Character played by Gal Gadot")
    field.fill("\u202eDiana")
    movie.get_by_role("button", name="Save", exact=True).click()
    error = movie.locator("#cast-character-error")
    expect(error).to_have_text("Character played by Gal Gadot must not contain bidirectional overrides or isolates "
                               "(U+202A-U+202E, U+2066-U+2069).")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", "cast-character-error cast-character-hint")
    expect(field).to_be_focused()
    check(page, axe, "i22-cast-producer-phone-character-422")
    field.fill("Diana")
    field.press("Enter")
    expect(shown(movie).nth(2)).to_have_text("Gal Gadot as Diana")
    etags.append(someone_else.etag(cast.path))

    # Emptied: no character.
    movie.get_by_role("button", name="Edit Dev Patel's character").click()
    movie.get_by_role("textbox", name="Character played by Dev Patel").fill("  ")
    movie.get_by_role("button", name="Save", exact=True).click()
    expect(shown(movie).first).to_have_text("Dev Patel")
    expect(movie.get_by_role("status")).to_have_text("Dev Patel plays no named character now.")
    assert cast.stored() == [("Dev Patel", None, 1), ("Riz Ahmed", "Sam", 2), ("Gal Gadot", "Diana", None),
                             ("Tilda Swinton", None, None)]

    path = f"{cast.path}/actors"
    assert [(w["method"], w["path"], w["if_match"], w["body"]) for w in writes] == [
        ("PUT", f"{path}/{cast.dev}", etags[0], {"character": "Arjun / Young Arjun", "billing": 1}),
        ("PUT", f"{path}/{cast.gal}", etags[1], {"character": "\u202eDiana"}),
        ("PUT", f"{path}/{cast.gal}", etags[1], {"character": "Diana"}),
        ("PUT", f"{path}/{cast.dev}", etags[2], {"billing": 1}),
    ]


# --- 412s: redone when they do not collide, explained when they do --------------------------------------------------


def test_a_move_after_someone_else_changed_the_cast(strict, client, producer, someone_else, axe):
    """Someone else changes a character: the page's move is a 412, it reads the cast, the billing order is the one
    the person moved in, so it moves again on the current cast (their character kept) and says what changed. Someone
    else reorders the cast: the move is refused, the current cast is shown with what changed, and moving again works.
    Someone else makes the very move the person makes: nothing is left to send."""
    cast = Cast(client, producer)
    page = strict.page()
    writes = record_writes(page)
    sign_in(page, "casting-director")
    movie = open_echoes(page)
    etags = [someone_else.etag(cast.path)]

    someone_else.write("PUT", f"{cast.path}/actors/{cast.gal}", {"character": "Diana"}, etag_of=cast.path)
    etags.append(someone_else.etag(cast.path))
    movie.get_by_role("button", name="Move Riz Ahmed up").click()
    expect(shown(movie)).to_have_text(["Riz Ahmed as Sam", "Dev Patel as Arjun", "Gal Gadot as Diana", "Tilda Swinton"])
    expect(movie.get_by_role("status")).to_have_text(
        "Riz Ahmed moved to billing 1. Meanwhile someone else changed the cast: Gal Gadot now plays Diana.×")
    expect(movie.get_by_role("alert")).to_have_text("")
    assert cast.stored() == [("Riz Ahmed", "Sam", 1), ("Dev Patel", "Arjun", 2), ("Gal Gadot", "Diana", None),
                             ("Tilda Swinton", None, None)]
    etags.append(someone_else.etag(cast.path))

    # A reorder meanwhile: the billing order moved in is gone. Refused, explained, shown.
    someone_else.write("PUT", f"{cast.path}/cast", {"cast": [
        {"actor_id": cast.dev, "character": "Arjun", "billing": 1},
        {"actor_id": cast.riz, "character": "Sam", "billing": 2},
        {"actor_id": cast.gal, "character": "Diana"}, {"actor_id": cast.tilda}]}, etag_of=cast.path)
    etags.append(someone_else.etag(cast.path))
    movie.get_by_role("button", name="Move Tilda Swinton up").click()
    expect(movie.get_by_role("alert")).to_have_text(
        "Someone else changed this movie's cast after this page showed it, so Tilda Swinton was not moved. Meanwhile "
        "someone else changed the cast: Dev Patel moved to billing 1; Riz Ahmed moved to billing 2. The cast is "
        "shown here as it is now: move them again if you still want to.×")
    expect(shown(movie)).to_have_text(["Dev Patel as Arjun", "Riz Ahmed as Sam", "Gal Gadot as Diana", "Tilda Swinton"])
    expect(movie.get_by_role("button", name="Move Tilda Swinton up")).to_be_focused()
    check(page, axe, "i22-cast-director-desktop-move-refused")
    assert cast.stored()[0] == ("Dev Patel", "Arjun", 1)
    page.keyboard.press("Enter")
    expect(rows(movie).locator(".billing")).to_have_text(["Billing 1.", "Billing 2.", "Billing 3.", "Not billed–"])
    expect(movie.get_by_role("alert")).to_have_text("")
    assert cast.stored()[2] == ("Tilda Swinton", None, 3)
    etags.append(someone_else.etag(cast.path))

    # The same move meanwhile: nothing to send.
    someone_else.write("PUT", f"{cast.path}/cast", {"cast": [
        {"actor_id": cast.riz, "character": "Sam", "billing": 1},
        {"actor_id": cast.dev, "character": "Arjun", "billing": 2},
        {"actor_id": cast.tilda, "billing": 3}, {"actor_id": cast.gal, "character": "Diana"}]}, etag_of=cast.path)
    movie.get_by_role("button", name="Move Riz Ahmed up").click()
    expect(movie.get_by_role("status")).to_have_text(
        "Nothing left to do: someone else put the cast in this order meanwhile (Riz Ahmed moved to billing 1; Dev "
        "Patel moved to billing 2).×")
    expect(shown(movie).first).to_have_text("Riz Ahmed as Sam")

    assert [(w["method"], w["path"], w["if_match"]) for w in writes] == [
        ("PUT", f"{cast.path}/cast", etags[0]),
        ("PUT", f"{cast.path}/cast", etags[1]),  # redone on the current cast
        ("PUT", f"{cast.path}/cast", etags[2]),  # refused: not redone
        ("PUT", f"{cast.path}/cast", etags[3]),  # pressed again
        ("PUT", f"{cast.path}/cast", etags[4]),  # the same move meanwhile: nothing more
    ]
    assert writes[1]["body"] == {"cast": [
        {"actor_id": cast.riz, "character": "Sam", "billing": 1},
        {"actor_id": cast.dev, "character": "Arjun", "billing": 2},
        {"actor_id": cast.gal, "character": "Diana"}, {"actor_id": cast.tilda}]}


def test_a_character_change_after_someone_else_changed_the_cast(strict, client, producer, someone_else, axe):
    """Someone else reorders the cast while the person edits Dev Patel's character: the PUT is a 412, it reads the
    cast, Dev Patel's character is as the person saw it, so it is sent again with his new billing (their order kept)
    and the page says what changed. Someone else changes Dev Patel's character too: nothing is saved, the field keeps
    the person's value and says what theirs is, and saving again applies it."""
    cast = Cast(client, producer)
    page = strict.page()
    writes = record_writes(page)
    sign_in(page, "casting-director")
    movie = open_echoes(page)
    etags = [someone_else.etag(cast.path)]

    movie.get_by_role("button", name="Edit Dev Patel's character").click()
    movie.get_by_role("textbox", name="Character played by Dev Patel").fill("Arjun Rao")
    someone_else.write("PUT", f"{cast.path}/cast", {"cast": [
        {"actor_id": cast.riz, "character": "Sam", "billing": 1},
        {"actor_id": cast.dev, "character": "Arjun", "billing": 2},
        {"actor_id": cast.gal}, {"actor_id": cast.tilda}]}, etag_of=cast.path)
    etags.append(someone_else.etag(cast.path))
    page.keyboard.press("Enter")
    expect(shown(movie)).to_have_text(["Riz Ahmed as Sam", "Dev Patel as Arjun Rao", "Gal Gadot", "Tilda Swinton"])
    expect(movie.get_by_role("status")).to_have_text(
        "Dev Patel now plays Arjun Rao. Meanwhile someone else changed the cast: Riz Ahmed moved to billing 1; Dev "
        "Patel moved to billing 2.×")
    assert cast.stored()[:2] == [("Riz Ahmed", "Sam", 1), ("Dev Patel", "Arjun Rao", 2)]
    etags.append(someone_else.etag(cast.path))

    # Both change Dev Patel's character: asked.
    movie.get_by_role("button", name="Edit Dev Patel's character").click()
    movie.get_by_role("textbox", name="Character played by Dev Patel").fill("Arjun Mehta")
    someone_else.write("PUT", f"{cast.path}/actors/{cast.dev}", {"character": "Young Arjun", "billing": 2},
                       etag_of=cast.path)
    etags.append(someone_else.etag(cast.path))
    movie.get_by_role("button", name="Save", exact=True).click()
    expect(movie.get_by_role("alert")).to_have_text(
        "Someone else changed this movie's cast while you were editing it, so Dev Patel's character was not saved. "
        "Meanwhile someone else changed the cast: Dev Patel now plays Young Arjun (was Arjun Rao). Your “Arjun Mehta” "
        "is still in the field: save again to apply it to the cast as it is now, or cancel to leave it.×")
    field = movie.get_by_role("textbox", name="Character played by Dev Patel")
    expect(field).to_have_value("Arjun Mehta")
    expect(field).to_be_focused()
    expect(movie.locator("#cast-character-collision")).to_have_text(
        "Someone else changed it to “Young Arjun” meanwhile: save to replace theirs with yours, or cancel to keep "
        "theirs.")
    expect(shown(movie).nth(1)).to_contain_text("Dev Patel as Young Arjun")
    check(page, axe, "i22-cast-director-desktop-character-collision")
    assert cast.stored()[1] == ("Dev Patel", "Young Arjun", 2)
    field.press("Enter")
    expect(shown(movie).nth(1)).to_have_text("Dev Patel as Arjun Mehta")
    expect(movie.get_by_role("alert")).to_have_text("")
    assert cast.stored()[1] == ("Dev Patel", "Arjun Mehta", 2)

    assert [(w["path"], w["if_match"], w["body"]) for w in writes] == [
        (f"{cast.path}/actors/{cast.dev}", etags[0], {"character": "Arjun Rao", "billing": 1}),
        (f"{cast.path}/actors/{cast.dev}", etags[1], {"character": "Arjun Rao", "billing": 2}),  # redone
        (f"{cast.path}/actors/{cast.dev}", etags[2], {"character": "Arjun Mehta", "billing": 2}),  # refused
        (f"{cast.path}/actors/{cast.dev}", etags[3], {"character": "Arjun Mehta", "billing": 2}),  # saved again
    ]


# --- who sees what -----------------------------------------------------------------------------------------------


def test_an_assistant_sees_the_roles_and_no_control_and_an_actor_their_characters(strict, client, producer):
    """The assistant reads the cast with its characters and billing, with nothing to edit or move; an actor's profile
    lists their movies with the character played there and the billing."""
    cast = Cast(client, producer)
    client.put(f"/movies/{cast.id}/actors/{cast.dev}", headers=producer, json={"character": "Arjun", "billing": 1})
    other = client.post("/movies", headers=producer, json={
        "title": "Copper Sky", "release_date": "2020-08-21", "cast": [{"actor_id": cast.dev, "character": "Nikhil"}]})
    assert other.status_code == 201
    page = strict.page()
    sign_in(page, "casting-assistant")
    movie = open_echoes(page)
    expect(shown(movie)).to_have_text(["Dev Patel as Arjun", "Riz Ahmed as Sam", "Gal Gadot", "Tilda Swinton"])
    expect(rows(movie).locator(".billing")).to_have_text(["Billing 1.", "Billing 2.", "Not billed–", "Not billed–"])
    expect(movie.locator(".cast-controls")).to_have_count(0)
    expect(movie.get_by_role("button", name="Move Riz Ahmed up")).to_have_count(0)
    expect(movie.get_by_role("button", name="Edit Riz Ahmed's character")).to_have_count(0)
    movie.get_by_role("button", name="Dev Patel", exact=True).click()
    actor = page.get_by_role("dialog", name="Dev Patel")
    expect(actor.get_by_role("list", name="Movies (2)").locator(".cast-main")).to_have_text([
        "Echoes of June as ArjunBilling 1", "Copper Sky as Nikhil"])


def test_an_actor_profile_names_the_characters_for_a_director_too(strict, client, producer):
    cast = Cast(client, producer)
    page = strict.page()
    sign_in(page, "casting-director")
    actor = open_actor(page, "Riz Ahmed")
    expect(actor.get_by_role("list", name="Movies (1)").locator(".cast-main")).to_have_text(
        ["Echoes of June as SamBilling 2"])
    expect(actor.get_by_role("button", name="Remove from Echoes of June")).to_be_visible()
    assert cast.stored()[1] == ("Riz Ahmed", "Sam", 2)
