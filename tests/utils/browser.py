"""Debian's Chromium (.ci/run installs it), as Playwright drives it: Playwright's own browser download is not used."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
