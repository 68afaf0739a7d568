"""The documentation: a short README whose commands work as pasted, `make run`'s banner likewise, the newman
command of docs/clients.md, links that lead somewhere, and a tree that points nowhere outside itself."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import requests

from tests.utils.environment import ROOT, unavailable
from tests.utils.processes import Process, Server, free_port, server_env

README = ROOT / "README.md"
DOCS = [README, ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", markdown, re.M | re.S)


def section(markdown: str, heading: str) -> str:
    return markdown.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    found, seen = set(), {}
    for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", markdown), re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def json_documents(text: str) -> list:
    """The JSON documents curl printed one after the other (the API ends none with a newline)."""
    decoder, documents, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) != -1:
        document, at = decoder.raw_decode(text, at)
        documents.append(document)
    return documents


def run_shell(script: str, env: dict[str, str], seconds: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=seconds)


# --- the README and the links -------------------------------------------------------------------------------


def test_the_readme_is_short_and_says_how_to_choose_the_port_once():
    text = README.read_text()
    assert len(text.encode()) < 10_000
    assert text.count("make run PORT=") == 1
    for command in ("make run", "make test", "Content-Type: application/json", "curl -X PUT", "/docs"):
        assert command in text


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(doc):
    text = FENCE.sub("", doc.read_text())
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        destination = (doc.parent / path).resolve() if path else doc
        assert destination.is_file() and destination.is_relative_to(ROOT), f"{target}: no such file"
        if anchor:
            assert anchor in anchors(destination.read_text()), f"{target}: no such heading"


def test_the_docs_link_to_each_other_as_the_readme_lists_them():
    listed = set(re.findall(r"\]\((docs/[\w-]+\.md)\)", README.read_text()))
    assert listed == {f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md")}, "a doc the README omits"


def tracked_text_files():
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in names.stdout.split("\0"):
        path = ROOT / name
        if name and path.is_file() and path.suffix not in (".png", ".ico", ".woff2"):
            try:
                yield name, path.read_text()
            except UnicodeDecodeError:
                continue


def test_the_tree_points_nowhere_outside_itself():
    """Whoever clones the repository has all it cites: nothing in a folder beside it, and every docs/*.md or
    bench/README.md that a file names exists."""
    outside = re.compile("|".join(re.escape(s) for s in ("../" + "shared", "shared/" + "API.md",
                                                          "the team's " + "API", "shared " + "folder")), re.I)
    cited = re.compile(r"(?<![\w/.-])((?:docs/[\w-]+|bench/README)\.md)")
    for name, text in tracked_text_files():
        assert not outside.search(text), f"{name} points outside the repository"
        for path in cited.findall(text):
            assert (ROOT / path).is_file(), f"{name} cites {path}, which does not exist"


# --- commands, as pasted, against `make run` ----------------------------------------------------------------


@pytest.fixture(scope="module")
def make_run(tmp_path_factory, local_pem):
    """`make run` on a free port with a database and a key of its own (nothing written to instance/), and the
    environment of a second terminal: no APP_ENV, the same key for `flask token`."""
    directory = tmp_path_factory.mktemp("make-run")
    env = server_env(APP_ENV=None, DATABASE_URL=f"sqlite:///{directory / 'run.db'}", LOCAL_ISSUER_PRIVATE_KEY=local_pem)
    for attempt in range(3):
        port = free_port()
        # -o: the suite's own run installed the requirements.
        make = Process(f"make-run#{attempt}", ["make", "--no-print-directory", "-o", ".venv/.installed", "run",
                                               f"PORT={port}"], env, directory / f"make-run-{attempt}.log")
        server = Server(make, port)
        try:
            healthy = server.wait_healthy(90, port_clash_ok=attempt < 2)
        except BaseException:
            make.stop()
            raise
        if healthy:
            break
        make.stop()
    try:
        yield server, port, env
    finally:
        make.stop()


def test_make_run_says_what_it_does_and_its_banner_works_when_pasted(make_run):
    server, port, env = make_run
    output = server.process.output()
    steps = [line for line in output.splitlines() if line.startswith("==> ")]
    assert steps == ["==> migrating the database (DATABASE_URL)",
                     "==> adding the demo movies and actors that are missing"]
    tokens = [line.strip() for line in output.splitlines() if line.startswith("  TOKEN=$(")]
    curl = [line.strip() for line in output.splitlines() if line.startswith("  curl ")]
    assert len(tokens) == 3 and len(curl) == 1
    for line in tokens:
        pasted = run_shell(f"{line}\n{curl[0]}\n", env)
        assert pasted.returncode == 0, pasted.stderr
        [answer] = json_documents(pasted.stdout)
        assert answer["success"] is True and answer["total"] >= 12
    pages = [line for line in output.splitlines() if "Dashboard:" in line or "Swagger UI:" in line]
    assert len(pages) == 2
    for address in re.findall(r"http://127\.0\.0\.1:\d+/\S*", "\n".join(pages)):
        assert address.startswith(f"http://127.0.0.1:{port}/")
        assert requests.get(address, timeout=10).status_code == 200, address


def test_the_readme_first_steps_work_as_pasted(make_run):
    _, port, env = make_run
    block = shell_blocks(section(README.read_text(), "## First steps"))[0]
    pasted = run_shell(block.replace("127.0.0.1:5000", f"127.0.0.1:{port}"), env)
    assert pasted.returncode == 0, pasted.stderr
    answers = json_documents(pasted.stdout)
    assert [answer["success"] for answer in answers] == [True, True, True]
    listed, created, cast = answers
    assert listed["total"] >= 12 and listed["movies"][0]["actors"]
    assert created["movie"]["title"] == "Harbour Lights" and created["movie"]["actors"] == []
    assert cast["movie"]["title"] == "Echoes of June"
    assert {"id": 10, "name": "Dev Patel"} in cast["movie"]["actors"]


def postman_command() -> str:
    block = next(block for block in shell_blocks((ROOT / "docs" / "clients.md").read_text()) if "make postman" in block)
    return block[block.index("make postman"):]


def test_the_node_version_the_docs_name_is_what_the_npm_tools_need():
    """The lowest Node.js every npm tool accepts (package-lock.json's engines), and newman's own."""
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    direct = json.loads((ROOT / "package.json").read_text())["devDependencies"]

    def lowest(name: str) -> tuple[int, int]:
        engines = lock[f"node_modules/{name}"].get("engines", {}).get("node", "0")
        versions = re.findall(r"(\d+)(?:\.(\d+))?(?:\.\d+)?", engines)
        return min((int(major), int(minor or 0)) for major, minor in versions)

    needed = max(lowest(name) for name in direct)
    text = (ROOT / "docs" / "clients.md").read_text()
    assert f"Node.js {needed[0]}.{needed[1]} or newer" in text
    assert f"newman {lock['node_modules/newman']['version'].split('.')[0]} itself runs on Node.js " \
           f"{lowest('newman')[0]} and up" in text


def test_make_postman_runs_the_collection_on_a_server_of_its_own_and_leaves_nothing(make_run, tmp_path):
    """docs/clients.md's `make postman`, pasted while `make run` serves (and the shell's DATABASE_URL names that
    server's database): every newman assertion passes against a server and a database of its own, so the
    development server's history gains nothing; afterwards its temporary folder is gone and its port free. A
    port already taken is refused before anything starts."""
    _, port, env = make_run
    if not (shutil.which("node") and (ROOT / "node_modules" / "newman").is_dir()):
        unavailable("newman is not installed: run npm ci (Node.js and npm)")
    command = postman_command()
    assert command == "make postman\n"
    command = command.replace("make postman", "make --no-print-directory -o .venv/.installed postman", 1)
    minted = run_shell("APP_ENV=development .venv/bin/flask --app app token executive-producer", env)
    token = minted.stdout.strip()

    def history_total() -> int:
        answer = requests.get(f"http://127.0.0.1:{port}/history", headers={"Authorization": f"Bearer {token}"},
                              timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["total"]

    before = history_total()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    taken = run_shell(command, {**env, "POSTMAN_PORT": str(port), "TMPDIR": str(scratch)})
    assert taken.returncode != 0 and f"127.0.0.1:{port} is taken" in taken.stderr, taken.stdout + taken.stderr
    own_port = free_port()
    pasted = run_shell(command, {**env, "POSTMAN_PORT": str(own_port), "TMPDIR": str(scratch)}, seconds=300)
    assert pasted.returncode == 0, pasted.stdout[-5000:] + pasted.stderr
    assert f"==> the app on http://127.0.0.1:{own_port}" in pasted.stdout
    assert re.search(r"│\s+assertions │\s+\d+ │\s+0 │", pasted.stdout), pasted.stdout[-3000:]
    assert history_total() == before
    assert list(scratch.iterdir()) == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{own_port}/health", timeout=5)
