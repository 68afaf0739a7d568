"""Writes the settings' descriptions from casting.config.SETTINGS, the one table of them: the table in
docs/configuration.md, setup.sh and app.json's "env".

    .venv/bin/python scripts/settings.py           # write the three (`make settings`)
    .venv/bin/python scripts/settings.py --check   # exit 1, naming them, when one is not what the table makes

tests/test_config.py runs the check, and checks that every variable the code reads is in the table.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from casting.config import OMIT, SETTINGS, UNSET, Setting  # noqa: E402

CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
SETUP_SH = ROOT / "setup.sh"
APP_JSON = ROOT / "app.json"
TABLE_BEGIN = ("<!-- The settings' table: written by scripts/settings.py from casting.config.SETTINGS "
               "(edit them there) -->")
TABLE_END = "<!-- end of the settings' table -->"

SETUP_HEADER = """\
#!/usr/bin/env bash
# A template of the production environment: copy it outside the repository, fill in the
# placeholders, then `source` it (or set the same names as Heroku config vars).
# Never commit real values: no secret belongs in this file.
#
# Written by scripts/settings.py from casting.config.SETTINGS: change the table there and run `make settings`,
# never this file. Every variable the app (casting/config.py) and gunicorn (gunicorn.conf.py) read is here
# (but Heroku's own DYNO); each value shown is the default unless marked as a placeholder.
# docs/configuration.md describes them.
"""


def default_text(setting: Setting) -> str:
    """The default as the docs say it (Markdown)."""
    if setting.shown_default:
        return setting.shown_default
    return f"`{setting.default}`" if setting.default else "unset"


def plain(text: str) -> str:
    return text.replace("`", "")


def render_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS.values():
        rows.append(f"| `{setting.name}` | {default_text(setting)} | {setting.meaning} |")
    return "\n".join(rows)


def render_doc(current: str) -> str:
    """docs/configuration.md with its table between the markers replaced."""
    if TABLE_BEGIN not in current or TABLE_END not in current:
        raise SystemExit(f"docs/configuration.md lacks the table's markers, {TABLE_BEGIN} and {TABLE_END}")
    before, rest = current.split(TABLE_BEGIN, 1)
    after = rest.split(TABLE_END, 1)[1]
    return f"{before}{TABLE_BEGIN}\n{render_table()}\n{TABLE_END}{after}"


def render_setup() -> str:
    lines = [SETUP_HEADER.rstrip("\n")]
    group = None
    for setting in SETTINGS.values():
        if setting.setup == OMIT:
            continue
        if setting.group != group:
            group = setting.group
            lines += ["", f"# --- {group}"]
        comment = f"{setting.name}: {setting.meaning}. Default: {plain(default_text(setting))}."
        if setting.placeholder:
            comment += " PLACEHOLDER: put your own value."
        lines += textwrap.wrap(comment, width=108, initial_indent="# ", subsequent_indent="#   ",
                               break_on_hyphens=False)
        if setting.setup == UNSET:
            lines.append(f"# unset {setting.name}")
        else:
            value = setting.default if setting.setup is None else setting.setup
            lines.append(f"export {setting.name}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"


def app_json_env() -> dict:
    env = {}
    for setting in SETTINGS.values():
        if setting.heroku == OMIT:
            continue
        meaning = plain(setting.meaning)
        spec: dict = {"description": meaning + "."}
        if setting.heroku == "required":
            spec["required"] = True
        else:
            value = setting.default if setting.heroku_value is None else setting.heroku_value
            if not value:
                spec["required"] = False  # app.json's variables are required unless said otherwise
            spec["value"] = value
        env[setting.name] = spec
    return env


def render_app_json(current: str) -> str:
    manifest = json.loads(current)
    manifest["env"] = app_json_env()
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[Path, str]:
    return {
        CONFIGURATION_DOC: render_doc(CONFIGURATION_DOC.read_text()),
        SETUP_SH: render_setup(),
        APP_JSON: render_app_json(APP_JSON.read_text()),
    }


def stale() -> list[str]:
    """The files that differ from what the table makes."""
    return [str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
            for path, text in rendered().items() if path.read_text() != text]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    args = parser.parse_args()
    if args.check:
        out_of_date = stale()
        if out_of_date:
            print(f"not what casting.config.SETTINGS makes: {', '.join(out_of_date)}; run `make settings`",
                  file=sys.stderr)
            return 1
        print("docs/configuration.md, setup.sh and app.json match casting.config.SETTINGS")
        return 0
    for path, text in rendered().items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
