"""Swagger UI at /docs (casting/api/docs.py): served from local files only, and rendered in Chromium with no network,
where a pasted token runs "Try it out" and the schemas' examples fill the forms."""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server

from casting.openapi import document as openapi_document


def test_docs_page_uses_only_local_assets(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/docs/start.js"):
        assert asset in html
        asset_response = client.get(asset)
        assert asset_response.status_code == 200
        asset_response.close()


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_docs_render_in_chromium_with_no_network(chromium, live_server, issuer, app):
    """Swagger UI draws every operation from local files; any request off 127.0.0.1 is refused and recorded."""
    outside: list[str] = []
    context = chromium.new_context()
    try:
        page = context.new_page()

        def only_local(route):
            if route.request.url.startswith(live_server):
                return route.continue_()
            outside.append(route.request.url)
            return route.abort()

        page.route("**/*", only_local)
        page.goto(f"{live_server}/docs")
        page.wait_for_selector(".opblock", timeout=20_000)
        operations = sum(len(methods) for methods in openapi_document.build(app)["paths"].values())
        assert page.locator(".opblock").count() == operations
        assert page.locator("button.authorize").count() == 1

        # Authorize with a pasted token, then "Try it out" -> Execute on GET /movies.
        page.click("button.authorize")
        page.fill(".modal-ux .auth-container input", issuer.mint("casting-assistant"))
        page.click(".modal-ux .auth-btn-wrapper button.authorize")
        page.click(".modal-ux button.btn-done")
        operation = page.locator("#operations-movies-list_movies")
        operation.locator(".opblock-summary").click()
        try_it_out = operation.locator("button.try-out__btn")
        if try_it_out.count() and try_it_out.inner_text().strip() == "Try it out":
            try_it_out.click()
        operation.locator("button.execute").click()
        status = operation.locator(".live-responses-table .response .response-col_status").first
        status.wait_for(timeout=20_000)
        assert status.inner_text().strip() == "200"
        body = json.loads(operation.locator(".live-responses-table .response-col_description pre").first
                          .inner_text())
        assert body["success"] is True and body["movies"] == []
        assert "Authorization: Bearer ey" in operation.locator(".curl-command").inner_text()

        # The schemas' examples fill the request body and the documented responses.
        create = page.locator("#operations-movies-create_movie")
        create.locator(".opblock-summary").click()
        editor = create.locator("textarea.body-param__text")
        editor.wait_for(timeout=20_000)
        assert json.loads(editor.input_value()) == {"title": "Winter on the Ninth Floor", "release_date": "2027-03-12"}
        assert "token lacks the post:movies permission" in create.inner_text()
    finally:
        context.close()
    assert outside == []
