"""What the dashboard's browser tests share: pages in Chromium that may talk only to the server's origin
(Browsing), signing in, settling a page for a screenshot or an audit, what sticks out or should not be on screen,
axe-core's findings, the writes and requests a page sends, and a few ways around the page (its profiles, the
recently deleted lists). Fixtures are in tests/dashboard/conftest.py."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from casting.tokens import roles
from tests.utils.environment import ROOT

ARTIFACTS = ROOT / "artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
WAIT_MS = 10_000
ROLE_LABELS = roles.ROLE_LABELS

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


# --- what people see: every role, desktop and phone --------------------------------------------------------

SHORT_ROLE = {"casting-assistant": "assistant", "casting-director": "director", "executive-producer": "producer"}


class Browsing:
    """New pages in fresh contexts that may talk only to `origin`; anything else is aborted and recorded."""

    def __init__(self, browser, origin: str):
        self.browser = browser
        self.origin = origin
        self.contexts = []
        self.outside: list[str] = []
        self.page_errors: list[str] = []

    def page(self, viewport=DESKTOP, timezone_id: str | None = None):
        context = self.browser.new_context(viewport=viewport, base_url=self.origin, locale="en-GB",
                                           timezone_id=timezone_id)
        context.set_default_timeout(WAIT_MS)
        context.route("**/*", self._only_origin)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        return page

    def _only_origin(self, route):
        url = route.request.url
        if url == self.origin or url.startswith(self.origin + "/"):
            return route.continue_()
        self.outside.append(url)
        return route.abort()

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def sign_in(page, role: str) -> None:
    page.goto("/")
    page.get_by_role("button", name=ROLE_LABELS[role]).click()
    expect(page.locator("#role-badge")).to_have_text(ROLE_LABELS[role])
    expect(page.get_by_role("heading", name="Movies", exact=True)).to_be_visible()


def settle(page) -> None:
    """Lists loaded, fades over and the pointer parked: a screenshot shows no spinner and no hover, and the
    colours axe-core measures are the final ones."""
    expect(page.locator("[aria-busy='true']")).to_have_count(0)
    page.mouse.move(0, 0)
    page.evaluate("""() => Promise.all(document.getAnimations()
        .filter((animation) => animation.effect?.getComputedTiming().endTime !== Infinity)
        .map((animation) => animation.finished.catch(() => null)))""")


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled")
STRAY_TEXT = re.compile(r"\b(null|undefined|NaN)\b|\[object ")

# Whatever sticks out sideways: past the window, out of a list's column, or out of an open dialog.
OVERFLOW_JS = """() => {
    const problems = [];
    const page = document.documentElement;
    if (page.scrollWidth > window.innerWidth) problems.push(`the page is ${page.scrollWidth}px wide`);
    for (const box of document.querySelectorAll(".panel, dialog[open]")) {
        const outer = box.getBoundingClientRect();
        if (!outer.width) continue;
        if (box.scrollWidth > box.clientWidth) problems.push(`#${box.id} is ${box.scrollWidth}px wide inside`);
        for (const inner of box.querySelectorAll("*")) {
            const rect = inner.getBoundingClientRect();
            if (rect.width && (rect.right > outer.right + 1 || rect.left < outer.left - 1)) {
                problems.push(`${inner.tagName.toLowerCase()}.${inner.className} sticks out of #${box.id}`);
            }
        }
    }
    return problems;
}"""


def stray_text(page) -> list[str]:
    """Words a script wrote by mistake (`null`, `undefined`...) anywhere on screen, open dialogs included."""
    return [match.group(0) for match in STRAY_TEXT.finditer(page.locator("body").inner_text())]


def overflow(page) -> list[str]:
    return page.evaluate(OVERFLOW_JS)


AXE_CORE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page, axe: str) -> list[str]:
    """axe-core's findings on the whole page as it is now (all its rules), one line per element."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated through the browser's debugging protocol, which the page's CSP does not govern.
        page.evaluate(axe + "\n;0")
    return page.evaluate("""async () => (await axe.run(document)).violations.flatMap((violation) =>
        violation.nodes.map((node) => `${violation.id} (${violation.impact}) at ${node.target.join(" ")}: ${
            violation.help}`))""")


# --- safe writes: two editors, and creates that happen once -------------------------------------------------
#
# These run against a server started with REQUIRE_IF_MATCH=true: a change the page sends without If-Match
# would be a 428 there. "Someone else" is another person changing records through the same server, with a
# token of their own from the suite's issuer, reading the ETag first as a careful client does.

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def record_writes(page) -> list[dict]:
    """The API writes the page sends (not signing in), with their If-Match and Idempotency-Key, as sent."""
    writes = []

    def seen(request):
        path = urlsplit(request.url).path
        if request.method != "GET" and path != "/dev/token":
            writes.append({"method": request.method, "path": path, "if_match": request.headers.get("if-match"),
                           "key": request.headers.get("idempotency-key")})

    page.on("request", seen)
    return writes


def stored(client, producer, path: str) -> dict:
    response = client.get(path, headers=producer)
    assert response.status_code == 200, response.json
    return next(value for name, value in response.json.items() if name != "success")


def open_movie(page, title: str):
    page.get_by_role("list", name="Movies").get_by_role("button", name=title, exact=True).click()
    movie = page.get_by_role("dialog", name=title)
    expect(movie.get_by_role("heading", name=re.compile(r"^Cast \("))).to_be_visible()
    return movie


# --- history and undo: a profile's history in words, and restoring what was deleted ---------------------------
#
# "Someone" changes records through the API with a token of their own (an Auth0-like subject), before the page
# loads them; the page names them by that subject, and the person signed in as "you". The pages run in Paris
# time, so that a time shown in UTC would fail.

SOMEONE = "auth0|64f1c2a9e3b0c12d4e5f6a7b"


def call(client, who: dict, method: str, path: str, json=None, status: int = 200) -> dict:
    response = client.open(path, method=method, headers=who, json=json)
    assert response.status_code == status, response.json
    return response.json


def open_deleted(page, kind: str, width: str):
    """The "Recently deleted" window of the `kind` column, its list loaded."""
    if width == "phone":
        page.get_by_role("tab", name=kind.capitalize()).click()
    page.get_by_role("button", name=f"Recently deleted {kind}", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"Recently deleted {kind}")
    expect(dialog.get_by_role("list", name=f"Recently deleted {kind}")).to_have_attribute("aria-busy", "false")
    return dialog


def deleted_names(dialog):
    return dialog.get_by_role("list").get_by_role("heading")

def page_alerts(page):
    """The alerts about the whole page (not a form's or a dialog's)."""
    return page.locator("#page-alert .alert")


# Where the page keeps its token (sessionStorage).
TOKEN_KEY = "casting-agency.token"

# A stand-in Auth0 tenant's names, for pages of a server set up for Auth0.
AUTH0_DOMAIN = "tenant.auth0.test"
AUTH0_AUDIENCE = "https://casting-agency.test/api"
AUTH0_CLIENT_ID = "dashboard-spa"


class SomeoneElse:
    """Another casting director or producer, writing through the API of the page's server."""

    def __init__(self, server, issuer, role="executive-producer"):
        self.server = server
        self.token = issuer.mint(role)

    def etag(self, path: str) -> str:
        response = self.server.request("GET", path, self.token)
        assert response.status_code == 200, response.text
        return response.headers["ETag"]

    def write(self, method: str, path: str, json=None, etag_of: str | None = None) -> None:
        """`method` `path` with If-Match: the ETag of `etag_of` (a casting's movie), else of `path`, as read now."""
        headers = {"If-Match": self.etag(etag_of or path)}
        response = self.server.request(method, path, self.token, json=json, headers=headers)
        assert response.status_code == 200, response.text


def open_actor(page, name: str, width: str = "desktop"):
    if width == "phone":
        page.get_by_role("tab", name="Actors").click()
    page.get_by_role("list", name="Actors").get_by_role("button", name=name, exact=True).click()
    actor = page.get_by_role("dialog", name=name)
    expect(actor.get_by_role("heading", name=re.compile(r"^Movies \("))).to_be_visible()
    return actor


def type_date(page, field, date: dt.date) -> None:
    """Set a date through the browser's own date control, from the keyboard as a person would (its pop-up
    calendar draws outside the page, where no test reaches). The control orders its day and month by the
    browser's language, not the page's: a first entry tells which order this Chromium uses."""
    field.focus()
    page.keyboard.type("01022003")
    day_first = field.input_value() == "2003-02-01"
    field.blur()
    field.focus()  # back at its first part
    page.keyboard.type(date.strftime("%d%m%Y" if day_first else "%m%d%Y"))
    expect(field).to_have_value(date.isoformat())
