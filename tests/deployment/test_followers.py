"""Read followers for real (DATABASE_FOLLOWER_URLS, casting/web/followers.py): a private PostgreSQL primary and a
streaming follower made from it with `pg_basebackup -R` (tests/utils/clusters.py), started once for this file on
free ports of 127.0.0.1 and removed afterwards, and gunicorn (2 workers x 4 threads) with the follower and Redis.

The follower is made to lag on purpose (`pg_wal_replay_pause()`), stopped with `pg_ctl stop -m immediate` under
load and started again, and promoted. What is judged is what happened, from the answers and from the access log's
"db" field (which database answered a request's reads, found by the X-Request-ID each request sends), with bounded
waits, never how fast. PostgreSQL's server binaries and Redis are required: missing, these tests skip, except under
CI=true, where they fail."""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
import requests

from tests.utils.clusters import Cluster, required_bindir
from tests.utils.postgres import migrate
from tests.utils.processes import Server, json_lines

VERSION = "Catalogue-Version"
ROUNDS = 100  # writes then reads, per way of carrying the write's version


@pytest.fixture(scope="module")
def replicated(local_pem):
    """A primary, migrated, and its streaming follower (hot standby), each a private cluster."""
    bindir = required_bindir()
    primary, follower = Cluster(bindir, "primary"), Cluster(bindir, "follower")
    try:
        primary.initdb()
        primary.start()
        migrate(primary.url, local_pem)
        follower.base_backup_of(primary)
        follower.start()
        yield primary, follower
    finally:
        try:
            follower.remove()
        finally:
            primary.remove()


def version_of(cluster: Cluster) -> int:
    return cluster.sql("SELECT version FROM catalogue_version WHERE id = 1")


def wait_for(what: str, check: Callable[[], bool], seconds: float = 30, pause: float = 0.1) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(pause)
    raise AssertionError(f"not within {seconds} s: {what}")


def caught_up(primary: Cluster, follower: Cluster) -> None:
    target = version_of(primary)
    wait_for(f"the follower replaying up to version {target}", lambda: version_of(follower) >= target)


@contextlib.contextmanager
def replay_paused(follower: Cluster):
    follower.sql("SELECT pg_wal_replay_pause()")
    try:
        wait_for("replay paused", lambda: follower.sql("SELECT pg_get_wal_replay_pause_state()") == "paused")
        yield
    finally:
        follower.sql("SELECT pg_wal_replay_resume()")


@pytest.fixture
def settings(replicated, redis_url, local_pem) -> dict[str, str]:
    primary, follower = replicated
    return {"DATABASE_URL": primary.url, "DATABASE_FOLLOWER_URLS": follower.url, "REDIS_URL": redis_url[0],
            "LOCAL_ISSUER_PRIVATE_KEY": local_pem, "RATE_LIMIT_DISABLED": "true", "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "4", "FOLLOWER_CHECK_SECONDS": "0.2", "FOLLOWER_MAX_LAG_SECONDS": "600"}


def send(server: Server, method: str, path: str, token: str, session: requests.Session | None = None,
         **kwargs) -> requests.Response:
    """A request with an X-Request-ID of its own (for `served_by`)."""
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": uuid.uuid4().hex, **kwargs.pop("headers", {})}
    response = (session or requests).request(method, server.url + path, headers=headers, timeout=20, **kwargs)
    response.sent_id = headers["X-Request-ID"]
    return response


def served_by(*servers: Server) -> dict[str, str | None]:
    """Request id -> the database that answered its reads ("primary", "follower-1"), from the access logs."""
    return {entry["request_id"]: entry.get("db") for server in servers
            for entry in json_lines(server.process.log.read_text(errors="replace")) if "request_id" in entry}


def read_by(server: Server, path: str, token: str, **kwargs) -> tuple[requests.Response, str | None]:
    response = send(server, "GET", path, token, **kwargs)
    return response, served_by(server).get(response.sent_id)


def followers_shown(server: Server) -> list[dict]:
    ready = server.request("GET", "/ready")
    assert ready.status_code == 200, ready.text
    return ready.json()["followers"]


def create_actor(server: Server, token: str, name: str) -> int:
    response = send(server, "POST", "/actors", token, json={"name": name, "age": 40, "gender": "female"})
    assert response.status_code == 201, response.text
    return response.json()["actor"]["id"]


def test_a_writer_reads_its_own_writes_on_either_instance_while_the_follower_lags(
        replicated, settings, fleet, local_issuer):
    """Replay paused on the follower: ROUNDS times a writer renames an actor on one instance and reads it back on the
    other, sending back the write's Catalogue-Version; ROUNDS more, another writer sends nothing and relies on its
    subject's last write in Redis, reading the list. Every read shows the write just made, every one answered by the
    primary. Meanwhile a reader who wrote nothing is answered by the follower, with the state from before the pause.
    A list ETag is never answered 304 from a source older than it: the writer's old ETag gets a 200 with its write,
    and the reader sending the writer's new ETag gets a 304 from the primary, not the follower's older list. Once
    replay resumes, the reader gets the new state, from the follower."""
    primary, follower = replicated
    one, two = fleet.gunicorn("rw-one", **settings), fleet.gunicorn("rw-two", **settings)
    producer = local_issuer.mint("executive-producer", sub=f"setup|{uuid.uuid4().hex}")
    reader = local_issuer.mint("casting-assistant", sub=f"reader|{uuid.uuid4().hex}")
    actor = create_actor(one, producer, "Before the pause")
    path, listing = f"/actors/{actor}", "/actors?per_page=100"
    caught_up(primary, follower)
    for server in (one, two):
        wait_for(f"{server.name} reading on the follower",
                 lambda server=server: read_by(server, path, reader)[1] == "follower-1")
    old_list = send(one, "GET", listing, reader)
    assert old_list.status_code == 200
    old_tag = old_list.headers["ETag"]

    with replay_paused(follower):
        paused = version_of(follower)
        writer_reads: list[str] = []
        with requests.Session() as session:
            writer = local_issuer.mint("casting-director", sub=f"writer-header|{uuid.uuid4().hex}")
            for i in range(ROUNDS):
                write_on, read_on = (one, two) if i % 2 == 0 else (two, one)
                written = send(write_on, "PATCH", path, writer, session, json={"name": f"Header {i}"})
                assert written.status_code == 200, written.text
                at = int(written.headers[VERSION])
                assert at > paused
                read = send(read_on, "GET", path, writer, session, headers={VERSION: str(at)})
                assert read.status_code == 200 and read.json()["actor"]["name"] == f"Header {i}", (i, read.text)
                assert int(read.headers[VERSION]) >= at
                writer_reads.append(read.sent_id)

            quiet = local_issuer.mint("casting-director", sub=f"writer-redis|{uuid.uuid4().hex}")
            for i in range(ROUNDS):
                write_on, read_on = (one, two) if i % 2 == 0 else (two, one)
                written = send(write_on, "PATCH", path, quiet, session, json={"name": f"Quiet {i}"})
                assert written.status_code == 200, written.text
                read = send(read_on, "GET", listing, quiet, session)
                assert read.status_code == 200, read.text
                names = {shown["id"]: shown["name"] for shown in read.json()["actors"]}
                assert names[actor] == f"Quiet {i}", (i, names)
                writer_reads.append(read.sent_id)
        latest, new_tag = f"Quiet {ROUNDS - 1}", read.headers["ETag"]

        reader_reads = []
        for server in (one, two) * 5:
            read = send(server, "GET", path, reader)
            assert read.status_code == 200 and read.json()["actor"]["name"] == "Before the pause", read.text
            assert int(read.headers[VERSION]) == paused
            reader_reads.append(read.sent_id)

        # No stale 304: the writer's old list ETag is a 200 with its write; the writer's new one, sent by the reader,
        # is a 304 only from a database that has reached it (the primary), never the follower's older list.
        again = send(two, "GET", listing, quiet, headers={"If-None-Match": old_tag})
        assert again.status_code == 200 and latest in {a["name"] for a in again.json()["actors"]}
        assert again.headers["ETag"] == new_tag
        for server in (one, two):
            revalidated = send(server, "GET", listing, reader, headers={"If-None-Match": new_tag})
            assert revalidated.status_code == 304, revalidated.text
            assert served_by(server)[revalidated.sent_id] == "primary"
        # The reader's own old ETag may be answered by the follower, which has reached it.
        kept = send(one, "GET", listing, reader, headers={"If-None-Match": old_tag})
        assert kept.status_code == 304 and served_by(one)[kept.sent_id] == "follower-1"

    logged = served_by(one, two)
    assert Counter(logged[rid] for rid in writer_reads) == {"primary": 2 * ROUNDS}
    assert Counter(logged[rid] for rid in reader_reads) == {"follower-1": len(reader_reads)}

    caught_up(primary, follower)
    wait_for("the reader seeing the last write, from the follower", lambda: (
        lambda answer: answer[0].json()["actor"]["name"] == latest and answer[1] == "follower-1")(
            read_by(one, path, reader)))


def test_exports_read_where_the_lists_do_and_their_copy_runs_on_the_follower(replicated, settings, fleet,
                                                                            local_issuer):
    """An export is a COPY in a REPEATABLE READ, READ ONLY transaction, which a hot standby runs: a reader's export
    is answered by the follower (while its replay is paused, the catalogue from before), whole, with its end line;
    a writer's, after its write, by the primary, with the write."""
    primary, follower = replicated
    server = fleet.gunicorn("exports", **settings)
    producer = local_issuer.mint("executive-producer", sub=f"setup|{uuid.uuid4().hex}")
    reader = local_issuer.mint("casting-assistant", sub=f"reader|{uuid.uuid4().hex}")
    create_actor(server, producer, "Exported before")
    caught_up(primary, follower)
    wait_for("the reader's export answered by the follower",
             lambda: read_by(server, "/actors/export", reader)[1] == "follower-1")
    with replay_paused(follower):
        writer = local_issuer.mint("executive-producer", sub=f"writer|{uuid.uuid4().hex}")
        create_actor(server, writer, "Exported during")
        answer, source = read_by(server, "/actors/export", reader)
        lines = answer.text.splitlines()
        assert (answer.status_code, source) == (200, "follower-1")
        assert any(",Exported before," in line for line in lines) and "Exported during" not in answer.text
        assert lines[-1] == f"#end,{len(lines) - 2},,"
        answer, source = read_by(server, "/actors/export?format=ndjson", writer)
        lines = answer.text.splitlines()
        assert (answer.status_code, source) == (200, "primary") and '"name":"Exported during"' in answer.text
        assert lines[-1] == f'{{"end":true,"rows":{len(lines) - 1}}}'


def test_a_follower_further_behind_than_the_limit_leaves_the_rotation_and_comes_back(
        replicated, settings, fleet, local_issuer):
    """FOLLOWER_MAX_LAG_SECONDS=1: with replay paused after a write, the follower falls more than a second behind,
    /ready says so, and a reader who wrote nothing is answered by the primary (with the write); replay resumed, the
    follower rejoins and answers that reader again."""
    primary, follower = replicated
    server = fleet.gunicorn("lag", **{**settings, "FOLLOWER_MAX_LAG_SECONDS": "1"})
    producer = local_issuer.mint("executive-producer", sub=f"setup|{uuid.uuid4().hex}")
    reader = local_issuer.mint("casting-assistant", sub=f"reader|{uuid.uuid4().hex}")
    actor = create_actor(server, producer, "Lagging")
    path = f"/actors/{actor}"
    caught_up(primary, follower)
    wait_for("the reader served by the follower", lambda: read_by(server, path, reader)[1] == "follower-1")

    def primary_only(name: str) -> bool:
        """Eight reads in a row by the primary, each showing `name`."""
        for _ in range(8):
            response, source = read_by(server, path, reader)
            assert response.status_code == 200, response.text
            if source != "primary":
                return False
            assert response.json()["actor"]["name"] == name
        return True

    with replay_paused(follower):
        renamed = send(server, "PATCH", path, producer, json={"name": "Behind"})
        assert renamed.status_code == 200
        wait_for("the lagging follower out of rotation", lambda: primary_only("Behind"))
        wait_for("/ready saying it is behind", lambda: any(
            not shown["in_rotation"] and "behind" in shown.get("problem", "") for shown in followers_shown(server)))

    def back() -> bool:
        response, source = read_by(server, path, reader)
        return source == "follower-1" and response.json()["actor"]["name"] == "Behind"

    wait_for("the follower back in rotation", back)
    wait_for("/ready showing it in rotation", lambda: all(s["in_rotation"] for s in followers_shown(server)))


def test_a_follower_stopped_under_load_fails_no_read_and_rejoins_when_it_is_back(
        replicated, settings, fleet, local_issuer):
    """Four readers and a writer (who reads back each write with its Catalogue-Version) loop while the follower is
    stopped with `pg_ctl stop -m immediate` and, once /ready says it is unreachable, started again: every answer is
    a 200 with the right data (the readers' actors as created, the writer's as it last wrote it), reads move to the
    primary while it is down, and come back to the follower once it is up."""
    primary, follower = replicated
    server = fleet.gunicorn("follower-down", **settings)
    producer = local_issuer.mint("executive-producer", sub=f"setup|{uuid.uuid4().hex}")
    names = {create_actor(server, producer, f"Steady {n}"): f"Steady {n}" for n in range(5)}
    own = create_actor(server, producer, "Written 0")
    caught_up(primary, follower)
    reader = local_issuer.mint("casting-assistant", sub=f"reader|{uuid.uuid4().hex}")
    wait_for("reads on the follower", lambda: read_by(server, f"/actors/{own}", reader)[1] == "follower-1")

    stop, lock = threading.Event(), threading.Lock()
    deadline = time.monotonic() + 90
    failures: list[str] = []
    phase = ["up"]
    reads: list[tuple[str, str]] = []  # phase, request id

    def record(response: requests.Response, problem: str | None) -> None:
        with lock:
            reads.append((phase[0], response.sent_id))
            if problem:
                failures.append(f"{phase[0]}: {problem}")

    def read_loop(number: int) -> None:
        token = local_issuer.mint("casting-assistant", sub=f"load-reader-{number}|{uuid.uuid4().hex}")
        rng = random.Random(number)
        with requests.Session() as session:
            for _ in range(20_000):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                actor = rng.choice(list(names))
                try:
                    response = send(server, "GET", f"/actors/{actor}", token, session)
                except requests.RequestException as exc:
                    with lock:
                        failures.append(f"{phase[0]}: {exc}")
                    continue
                ok = response.status_code == 200 and response.json()["actor"]["name"] == names[actor]
                record(response, None if ok else f"{response.status_code} {response.text[:200]}")

    def write_loop() -> None:
        token = local_issuer.mint("casting-director", sub=f"load-writer|{uuid.uuid4().hex}")
        with requests.Session() as session:
            for i in range(1, 20_000):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                written = send(server, "PATCH", f"/actors/{own}", token, session, json={"name": f"Written {i}"})
                if written.status_code != 200:
                    with lock:
                        failures.append(f"{phase[0]}: write {written.status_code} {written.text[:200]}")
                    continue
                read = send(server, "GET", f"/actors/{own}", token, session,
                            headers={VERSION: written.headers[VERSION]})
                ok = read.status_code == 200 and read.json()["actor"]["name"] == f"Written {i}"
                record(read, None if ok else f"own write not read back: {read.status_code} {read.text[:200]}")

    def count_in(name: str) -> int:
        with lock:
            return sum(1 for at, _ in reads if at == name)

    threads = [threading.Thread(target=read_loop, args=(n,), daemon=True) for n in range(4)]
    threads.append(threading.Thread(target=write_loop, daemon=True))
    for thread in threads:
        thread.start()
    try:
        wait_for("reads before the stop", lambda: count_in("up") >= 100)
        follower.stop("immediate")
        phase[0] = "down"
        wait_for("/ready saying the follower is unreachable", lambda: any(
            not shown["in_rotation"] and "unreachable" in shown.get("problem", "")
            for shown in followers_shown(server)))
        wait_for("reads while it is down", lambda: count_in("down") >= 100)
        phase[0] = "starting"  # reads may go to it again as soon as it is up, before start() returns
        follower.start()
        phase[0] = "back"
        wait_for("/ready showing it in rotation again",
                 lambda: all(shown["in_rotation"] for shown in followers_shown(server)))
        wait_for("reads after it is back", lambda: count_in("back") >= 100)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    logged = served_by(server)
    sources = Counter((at, logged.get(rid)) for at, rid in reads)
    total = len(reads)
    print(f"\nfollower stopped under load: {total} reads, {dict(sources)}; failures {len(failures)}")
    assert failures == [], failures[:5]
    assert sources["up", "follower-1"] > 0 and sources["back", "follower-1"] > 0, sources
    # Stopped, the follower answers nothing: reads that began on it were read again on the primary.
    late_down = [logged.get(rid) for at, rid in reads if at == "down"][-50:]
    assert set(late_down) == {"primary"}, Counter(late_down)


def test_a_promoted_follower_leaves_the_rotation(replicated, settings, fleet, local_issuer):
    """A second follower, promoted (`pg_ctl promote`: no longer in recovery, so no longer following the primary's
    writes), is taken out, /ready says why, and reads go to the primary."""
    primary, _ = replicated
    second = Cluster(required_bindir(), "second follower")
    try:
        second.base_backup_of(primary)
        second.start()
        server = fleet.gunicorn("promoted", **{**settings, "DATABASE_FOLLOWER_URLS": second.url})
        producer = local_issuer.mint("executive-producer", sub=f"setup|{uuid.uuid4().hex}")
        reader = local_issuer.mint("casting-assistant", sub=f"reader|{uuid.uuid4().hex}")
        path = f"/actors/{create_actor(server, producer, 'Promoted')}"
        caught_up(primary, second)
        wait_for("reads on the second follower", lambda: read_by(server, path, reader)[1] == "follower-1")
        second.promote()
        wait_for("/ready saying it is not in recovery", lambda: any(
            not shown["in_rotation"] and "not in recovery" in shown.get("problem", "")
            for shown in followers_shown(server)))
        renamed = send(server, "PATCH", path, producer, json={"name": "After the promotion"})
        assert renamed.status_code == 200
        # /ready was answered by one worker; each process checks its followers on its own (FOLLOWER_CHECK_SECONDS),
        # so the other may still count the promoted one in until its next check.
        wait_for("every worker reading from the primary",
                 lambda: all(read_by(server, path, reader)[1] == "primary" for _ in range(10)))
        for _ in range(10):
            response, source = read_by(server, path, reader)
            assert source == "primary" and response.json()["actor"]["name"] == "After the promotion"
    finally:
        second.remove()


def test_without_redis_a_signed_in_client_that_sends_no_version_is_read_from_the_primary(
        replicated, settings, fleet, local_issuer):
    """Redis unreachable (a closed port): the subject's last write cannot be looked up, so a signed-in client that
    sends no Catalogue-Version is read from the primary and sees its write even with replay paused; one that sends
    the version it was answered may still be read from the follower when the follower has reached it."""
    primary, follower = replicated
    no_redis = {**settings, "REDIS_URL": "redis://127.0.0.1:9/0"}
    server = fleet.gunicorn("no-redis", **no_redis)
    writer = local_issuer.mint("casting-director", sub=f"no-redis|{uuid.uuid4().hex}")
    producer = local_issuer.mint("executive-producer", sub=f"setup|{uuid.uuid4().hex}")
    actor = create_actor(server, producer, "Before Redis went")
    path = f"/actors/{actor}"
    caught_up(primary, follower)
    at = int(send(server, "GET", path, writer).headers[VERSION])
    wait_for("the follower in rotation", lambda: read_by(server, path, writer, headers={VERSION: str(at)})[1]
             == "follower-1")
    with replay_paused(follower):
        for i in range(10):
            written = send(server, "PATCH", path, writer, json={"name": f"No Redis {i}"})
            assert written.status_code == 200, written.text
            read, source = read_by(server, path, writer)
            assert read.status_code == 200 and read.json()["actor"]["name"] == f"No Redis {i}", (i, read.text)
            assert source == "primary"
