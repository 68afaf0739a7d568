"""Issue 22, the development sign-in: each sign-in is a person of their own (in Chromium).

The role picker asks for a name, sent to POST /dev/token as {"role", "name"}: left empty, the role's stand-in
("Dana, Casting Director"); typed, it is remembered in localStorage for the next sign-in (the token itself stays in
the tab's sessionStorage). Two people in one role are two subjects: the history names one to the other, and says
"by you" to each only for their own changes. A name the API refuses is explained beside the field.
"""

from __future__ import annotations

import json
import re

import jwt

from casting.tokens.local_issuer import subject
from tests.dashboard.pages import (
    expect,
    open_actor,
)
from tests.utils.records import new_actor

NAME_KEY = "casting-agency.name"






def token_requests(page) -> list[dict]:
    sent = []
    page.on("request", lambda request: sent.append(request.post_data_json)
            if request.url.endswith("/dev/token") else None)
    return sent


def claims(page) -> dict:
    token = page.evaluate("sessionStorage.getItem('casting-agency.token')")
    return jwt.decode(token, options={"verify_signature": False})


def stored_locally(page) -> dict:
    return json.loads(page.evaluate("JSON.stringify({...localStorage})"))


def test_an_empty_name_signs_in_as_the_roles_stand_in_and_a_typed_one_is_remembered(browsing):
    page = browsing.page()
    sent = token_requests(page)
    page.goto("/")
    name = page.get_by_role("textbox", name="Your name")
    expect(name).to_have_value("")
    expect(name).to_have_accessible_description(re.compile(
        r"Each name is a person of their own in the history\. Left empty, you are the role's stand-in: "
        r"“Sam, Casting Assistant”, “Dana, Casting Director” or “Morgan, Executive Producer”\."))
    page.get_by_role("button", name="Casting Director").click()
    expect(page.locator("#role-badge")).to_have_text("Casting Director")
    expect(page.locator("#session-name")).to_have_text("Dana, Casting Director")
    assert sent == [{"role": "casting-director", "name": "Dana, Casting Director"}]
    assert claims(page)["sub"] == subject("casting-director", "Dana, Casting Director")
    assert stored_locally(page) == {}, "nothing typed, nothing remembered"

    page.get_by_role("button", name="Log out").click()
    name.fill("  Avery Quinn ")
    page.get_by_role("button", name="Executive Producer").click()
    expect(page.locator("#session-name")).to_have_text("Avery Quinn")
    assert sent[-1] == {"role": "executive-producer", "name": "Avery Quinn"}
    assert claims(page)["sub"] == subject("executive-producer", "Avery Quinn")
    assert claims(page)["https://casting-agency/name"] == "Avery Quinn"
    assert stored_locally(page) == {NAME_KEY: "Avery Quinn"}, "the name only: the token is in sessionStorage"

    # A new page (the same browser): the name is there again.
    page.get_by_role("button", name="Log out").click()
    page.reload()
    expect(page.get_by_role("textbox", name="Your name")).to_have_value("Avery Quinn")
    page.get_by_role("textbox", name="Your name").fill("")
    page.get_by_role("button", name="Casting Assistant").click()
    expect(page.locator("#session-name")).to_have_text("Sam, Casting Assistant")
    assert stored_locally(page) == {}, "emptied: forgotten"


def test_two_people_in_one_role_are_two_people_in_the_history(browsing, client, producer, api):
    new_actor(api, "Gal Gadot", 41, "female")["id"]
    avery, blake = browsing.page(), browsing.page()
    for page, person in ((avery, "Avery Quinn"), (blake, "Blake Moreno")):
        page.goto("/")
        page.get_by_role("textbox", name="Your name").fill(person)
        page.get_by_role("button", name="Casting Director").click()
        expect(page.locator("#session-name")).to_have_text(person)
    assert claims(avery)["sub"] != claims(blake)["sub"]

    actor = open_actor(avery, "Gal Gadot")
    actor.get_by_role("button", name="Edit actor").click()
    form = avery.get_by_role("dialog", name="Edit Gal Gadot")
    form.get_by_role("spinbutton", name="Age", exact=True).fill("42")
    form.get_by_role("button", name="Save changes").click()
    history = actor.get_by_role("list", name="History").get_by_role("listitem")
    expect(history.first).to_contain_text("Age changed from 41 to 42 by you on ")

    actor = open_actor(blake, "Gal Gadot")
    history = actor.get_by_role("list", name="History").get_by_role("listitem")
    expect(history.first).to_contain_text("Age changed from 41 to 42 by Avery Quinn on ")


def test_a_name_the_api_refuses_is_explained_beside_the_field(browsing):
    page = browsing.page()
    page.goto("/")
    name = page.get_by_role("textbox", name="Your name")
    name.fill("\u202eAvery")
    page.get_by_role("button", name="Casting Director").click()
    expect(page.locator("#signin-name-error")).to_contain_text("Your name must not contain bidirectional")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_be_focused()
    expect(page.get_by_role("button", name="Casting Director")).to_be_enabled()
    assert page.evaluate("sessionStorage.getItem('casting-agency.token')") is None
    name.fill("Avery")
    page.get_by_role("button", name="Casting Director").click()
    expect(page.locator("#session-name")).to_have_text("Avery")
