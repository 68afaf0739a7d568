"""Write bench/results.md (the targets, the worker setups, every figure) and bench/results.png (throughput
and p99 by size) from one run's figures (bench/results.json, which bench/run.py writes).

    python bench/report.py bench/results.json          # the report again, from the same figures
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scenarios import (  # noqa: E402
    ACTOR_NAME,
    ACTORS,
    ANY_PAGE,
    BROAD,
    CHARACTER,
    COMMON,
    CURSOR,
    HEALTH,
    LIST_50,
    LIST_500,
    NARROW,
    PG_ANY_PAGE,
    PG_LIST_50,
    PG_LIST_500,
    PG_LIST_500_BEFORE,
    PG_SEARCH,
    PG_WRITES,
    READ_MIX,
    RECORD,
    REPEAT_SIZE,
    REVALIDATE_LIST,
    REVALIDATE_RECORD,
    SEARCHES,
    TAIL_TARGET,
    TARGETS_23,
    TARGETS_24,
    WRITES,
    counted_path,
)

# The figures issue 16 starts from (its text), as ratios to /health in the same run: a broad search at
# 100k movies ran at 38 req/s with /health at 3,821; at 1M at 30 req/s, with pages 1..500 at 694 req/s
# being 0.15x /health (so /health at about 4,627).
BROAD_BEFORE = {100_000: 38 / 3821, 1_000_000: 30 / (694 / 0.15)}
TARGETS = {"list_vs_pgbench": 0.55, "revalidation": 0.50, "broad_multiple": 4.0, "cursor": 0.80, "any_page": 0.25}
PGBENCH_STATEMENTS = {PG_LIST_500_BEFORE: 2}  # page_offset_count.sql; the other scripts run one statement
CHART = [HEALTH, LIST_50, LIST_500, ANY_PAGE, CURSOR, BROAD, NARROW, COMMON, CHARACTER, ACTOR_NAME, RECORD, ACTORS,
         REVALIDATE_LIST, REVALIDATE_RECORD, WRITES]


def _percent(ratio: float) -> str:
    return f"{ratio:.1%}" if ratio < 0.1 else f"{ratio:.0%}"


def _target(ratio: float | None, target: float) -> str:
    """`**34%** (target 50%: missed by 16 points)`, or `... met)`."""
    if ratio is None:
        return f"not measured in this run (target {_percent(target)})"
    points = (target - ratio) * 100
    verdict = "met" if ratio >= target else f"missed by {points:.1f} points" if points < 10 else \
        f"missed by {points:.0f} points"
    return f"**{_percent(ratio)}** (target {_percent(target)}: {verdict})"


def _rps(row: dict | None, name: str) -> float | None:
    if row is None:
        return None
    found = row["scenarios"].get(name) or row["pgbench"].get(name)
    return found["rps"] if isinstance(found, dict) else found


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _elsewhere(results: dict, numerator: str, denominator: str, size: int) -> str:
    """The same ratio at the run's other sizes, in parentheses."""
    others = [f"{row['size']:,}: {_percent(ratio)}" for row in results["rows"] if row["size"] != size
              and (ratio := _ratio(_rps(row, numerator), _rps(row, denominator)))]
    return f" (at {'; '.join(others)})" if others else ""


def targets(results: dict) -> list[str]:
    by_size = {row["size"]: row for row in results["rows"]}
    lines = []
    ten = by_size.get(REPEAT_SIZE)
    pairs = (ten or {}).get("pairs")
    if pairs:
        ratios = [pair["ratio"] for pair in pairs]
        lines.append(f"1. **The list, cold**: at 10k movies, random pages 1..500, vs pgbench doing the same work in "
                     f"SQL (`bench/page.sql`), the median of {len(ratios)} runs side by side: "
                     + _target(statistics.median(ratios), TARGETS["list_vs_pgbench"])
                     + "; the runs: " + ", ".join(
                         f"{_percent(r)} ({p['app']['rps']:,.0f} req/s vs {p['pgbench']:,.0f} tps)"
                         for r, p in zip(ratios, pairs, strict=True)) + ".")
        before = [pair["ratio_before"] for pair in pairs if "ratio_before" in pair]
        if before:
            lines.append(f"   Against issue 16's own reference (`bench/page_offset_count.sql`: OFFSET from the start "
                         f"at every depth and a `COUNT(*)` of the table, more work than the app does) the median is "
                         f"{_percent(statistics.median(before))} (" + ", ".join(_percent(r) for r in before) + ").")
    else:
        lines.append("1. **The list, cold**: "
                     + _target(_ratio(_rps(ten, LIST_500), _rps(ten, PG_LIST_500)), TARGETS["list_vs_pgbench"]))
    revalidations = []
    for row in results["rows"]:
        list_ratio = _ratio(_rps(row, REVALIDATE_LIST), _rps(row, HEALTH))
        record_ratio = _ratio(_rps(row, REVALIDATE_RECORD), _rps(row, HEALTH))
        if list_ratio or record_ratio:
            revalidations.append(f"   - {row['size']:,} movies: a list page "
                                 f"{_target(list_ratio, TARGETS['revalidation'])}, a record "
                                 f"{_target(record_ratio, TARGETS['revalidation'])}")
    lines.append("2. **Revalidation** (`If-None-Match` naming the current ETag, every answer a 304) vs `/health`:")
    lines += revalidations or ["   - not measured in this run"]
    for number, size in ((3, 100_000), (4, 1_000_000)):
        row = by_size.get(size)
        label = "100k" if size < 1_000_000 else "1M"
        if number == 3:
            lines.append(f"3. **Broad search** (`q=` matching one movie in ten, exact `total`) at {label} movies:")
        else:
            lines.append(f"4. **A million movies** ({label} movies, 500k actors, 3M castings):")
        if row is None:
            lines.append(f"   - not measured in this run (no {size:,} in `--sizes`)")
            continue
        if number == 4:
            lines.append("   - a cursor walk (the page after a cursor at a random depth) vs random pages 1..50: "
                         + _target(_ratio(_rps(row, CURSOR), _rps(row, LIST_50)), TARGETS["cursor"])
                         + _elsewhere(results, CURSOR, LIST_50, size))
            lines.append("   - random pages by number over the whole list (1..50,000) vs pages 1..50: "
                         + _target(_ratio(_rps(row, ANY_PAGE), _rps(row, LIST_50)), TARGETS["any_page"])
                         + _elsewhere(results, ANY_PAGE, LIST_50, size))
        broad, before = _ratio(_rps(row, BROAD), _rps(row, HEALTH)), BROAD_BEFORE[size]
        multiple = f" = {broad / before:.1f}x the issue's {_percent(before)} (the target is 4x)" if broad else ""
        lines.append(f"   - the broad search vs `/health`: {_target(broad, TARGETS['broad_multiple'] * before)}"
                     + multiple)
        count = _rps(row, PG_SEARCH)
        if count:
            app = _rps(row, BROAD)
            lines.append(f"   - the database's own limit: pgbench counting the same matches in SQL "
                         f"(`bench/search_count.sql`, nothing else) runs {count:,.0f} tps"
                         + (f"; the app's broad search (page, cast and exact total) runs at {app / count:.2f}x that"
                            if app else ""))
        if number == 4:
            lines.append(f"   - the loader (`bench/load.sql`) made them in {row['load_seconds']} s")
    setups = (ten or {}).get("setups")
    if setups:
        default, sync = setups["default"], setups["sync"]
        lines.append(f"5. **Worker setup** at 10k movies (table below): the configured default ({default['label']}) "
                     f"runs the list at {_percent(_rps(default, LIST_500) / _rps(sync, LIST_500))} of the rate "
                     f"of sync workers ({sync['label']}), `/health` at "
                     f"{_percent(_rps(default, HEALTH) / _rps(sync, HEALTH))}.")
    counted = [row for row in results["rows"] if row.get("statements")]
    if counted:
        lines.append("- **Statements per request** the same at every size and for every page size (the CI gate "
                     "compares them with `bench/statements.json`): " + ("yes" if not [
                         f for f in results["failures"] if "statements" in f] else "**no**, see the failures"))
    return lines


def issue25(results: dict) -> list[str]:
    """Each search against pages 1..50 (target 0.8x, 1 in 10 excepted) and its tail (p99 at most 5x p50), each
    measured on a server just started: the first requests of each process are in its figures and its max."""
    lines = []
    for row in results["rows"]:
        measured = row["scenarios"]
        for name in SEARCHES:
            m = measured.get(name)
            if not m or not m["p50"]:
                continue
            ratio = _ratio(m["rps"], _rps(row, LIST_50))
            versus = "" if name == BROAD or ratio is None else f" | {_target(ratio, 0.8)}"
            lines.append(f"| {row['size']:,} | {name} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} | "
                         f"{m.get('max') or 0:.1f} | {m['p99'] / m['p50']:.1f}x (target at most {TAIL_TARGET:.0f}x)"
                         f"{versus or ' | (no target)'} |")
    writes = []
    for row in results["rows"]:
        app, sql = _rps(row, WRITES), _rps(row, PG_WRITES)
        if app and sql:
            writes.append(f"| {row['size']:,} | {app:,.0f} | {sql:,.0f} | {app / sql:.2f}x |")
    if writes:
        writes = ["", "The write mix against pgbench running its statements in the same transactions "
                  "(`bench/writes.sql`: the rows locked, read, changed, the history entries, the version's bump; "
                  "no HTTP, token, validation or JSON encoding): where the write path's limit stands (no target).",
                  "", "| movies | write mix req/s | pgbench write mix tps | app / pgbench |", "|---:|---:|---:|---:|",
                  *writes]
    if not lines and not writes:
        return []
    return ["", "## Issue 25: search on realistic data, and the writes' limit", "",
            "Each search on a gunicorn just started, with no warm-up: every process's first requests are measured "
            "(`max` is the slowest request). bench/README.md#the-data says what each search matches.", "",
            "| movies | search | req/s | p50 ms | p99 ms | max ms | p99 / p50 | vs pages 1..50 (target 0.8x) |",
            "|---:|---|---:|---:|---:|---:|---|---|", *lines, *writes]


def issue23(results: dict) -> list[str]:
    """Imports and the export against PostgreSQL's COPY (bench/transfers.py)."""
    imported = next((row["imports"] for row in results["rows"] if "http" in row.get("imports", {})), None)
    exported = next((row["export"] for row in results["rows"] if "export" in row), None)
    if not imported and not exported:
        return []
    lines = ["", "## Issue 23: import and export, against PostgreSQL's `COPY`", ""]
    if imported:
        http, cli = imported["http"], imported.get("cli")
        lines += [f"**Import** of {imported['actors']:,} actors and {imported['castings']:,} castings (three each, "
                  f"of {imported['movies']:,} movies made beforehand), the same rows each way, into the same empty "
                  "tables; each import paired with the `COPY` run just before it:", "",
                  "| way | actors rows/s | castings rows/s | all rows/s | seconds | vs `COPY` |",
                  "|---|---:|---:|---:|---:|---|"]
        ways = [("copy_http", "`COPY ... FROM STDIN`", None),
                ("http", f"`POST /imports` ({http['requests']} requests: actors by name, castings by id, at most "
                         "100,000 rows each), with history", ("http_vs_copy", "http_vs_copy")),
                ("copy_cli", "`COPY ... FROM STDIN` again", None),
                ("cli", "`flask import` (actors, then castings `--match id`: a process each, its start included), "
                        "with history", ("cli_vs_copy", "cli_vs_copy"))]
        for key, label, ratio in ways:
            if key in imported:
                way = imported[key]
                rate = way["rows_per_second"]
                if not way.get("complete", True):
                    ratio = None
                    label += " **(failed: not every row went in, see the failures below)**"
                lines.append(f"| {label} | {rate['actors']:,.0f} | {rate['castings']:,.0f} | {rate['all']:,.0f} | "
                             f"{way['total_seconds']:.1f} | "
                             + (_target(imported[ratio[0]], TARGETS_23[ratio[1]]) if ratio else "") + " |")
        lines += ["", f"The HTTP import wrote {http['history_entries']:,} history entries"
                  + (f", the command line {cli['history_entries']:,}" if cli else "")
                  + ". `COPY` writes none, and besides: checks nothing but the tables' constraints (no rule of the "
                  "API's, no problem report by line and column), matches nothing (a second `COPY` of the same file "
                  "fails on the keys or duplicates where an import finds every row unchanged), takes no "
                  "`Idempotency-Key`, and bumps the catalogue version only through the tables' triggers.", ""]
    if exported:
        growth = exported["rss_growth_mb"]
        limit = TARGETS_23["export_rss_growth_mb"]
        copy_to = "COPY (SELECT id, title, release_date FROM movies ORDER BY id) TO STDOUT"
        lines += [f"**Export** of {exported['rows']:,} movies (`GET /movies/export`, CSV, streamed through gunicorn) "
                  f"at {exported['export_rows_per_second']:,.0f} rows/s against `{copy_to}` at "
                  f"{exported['copy_rows_per_second']:,.0f} "
                  f"rows/s (the best of {exported['rounds']} each): "
                  + _target(exported["ratio"], TARGETS_23["export_vs_copy"])
                  + f". The worker that served it: {exported['idle_rss_mb']:.0f} MB resident before, "
                  f"{exported['peak_rss_mb']:.0f} MB at its peak during the export, **+{growth:.1f} MB** (target "
                  f"at most +{limit} MB: {'met' if growth <= limit else 'missed'})."]
    return lines


def issue24(results: dict) -> list[str]:
    """PgBouncer against direct connections (bench/pooler.py), a follower against the primary alone
    (bench/followers.py)."""
    pooled = next((row["pgbouncer"] for row in results["rows"] if "ratios" in row.get("pgbouncer", {})), None)
    follower = results.get("followers") if "follower_share" in results.get("followers", {}) else None
    if not pooled and not follower:
        return []
    lines = ["", "## Issue 24: PgBouncer and a read follower", ""]
    if pooled:
        lines += [f"**Through PgBouncer** in transaction pooling mode (a private `pgbouncer`, a pool of "
                  f"{pooled['pool_size']} server connections for the app's 2 workers x 4 threads, "
                  f"`DATABASE_POOLED=true`) against the app connected directly, at {pooled['size']:,} movies, two "
                  "servers up at once, each scenario run on one, the other, the other and the first again (the "
                  "mean of two runs each):", "",
                  "| scenario | direct req/s | p99 ms | failed | through PgBouncer req/s | p99 ms | failed | "
                  "PgBouncer / direct |", "|---|---:|---:|---:|---:|---:|---:|---|"]
        for name, ratio in pooled["ratios"].items():
            direct, through = pooled["scenarios"]["direct"][name], pooled["scenarios"]["pgbouncer"][name]
            lines.append(f"| {name} | {direct['rps']:,.0f} | {direct['p99']:.1f} | {direct['failed']} | "
                         f"{through['rps']:,.0f} | {through['p99']:.1f} | {through['failed']} | "
                         f"{_target(ratio, TARGETS_24['pgbouncer_vs_direct'])} |")
        lines.append("")
    if follower:
        alone, both = follower["scenarios"]["primary only"], follower["scenarios"]["primary + follower"]
        mix = both[READ_MIX]["reads"]
        lines += [f"**A read follower**: a private primary and its streaming follower (`pg_basebackup -R`), "
                  f"{follower['size']:,} movies, one gunicorn on the primary only and one with "
                  "`DATABASE_FOLLOWER_URLS`, each scenario A B B A:", "",
                  "| scenario | primary only req/s | p99 ms | primary + follower req/s | p99 ms | ratio |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name in (LIST_500, READ_MIX):
            a, b = alone[name], both[name]
            lines.append(f"| {name} | {a['rps']:,.0f} | {a['p99']:.1f} | {b['rps']:,.0f} | {b['p99']:.1f} | "
                         f"{b['rps'] / a['rps']:.2f} |")
        share = mix["follower_share"] or 0
        lines += ["", f"The follower answered **{share:.0%}** of the read mix's {mix['reads']:,} reads "
                  f"({', '.join(f'{k}: {v:,}' for k, v in sorted(mix['by_source'].items()))}; the access log's `db`). "
                  "The mix's reads are a reader's, who wrote nothing, so any follower in rotation may answer "
                  "them; a writer's own reads stay on the primary until a follower is known to have replayed its "
                  "last write. On this 2-core machine the follower shares the cores with the primary, gunicorn "
                  "and wrk: the throughput ratio shows what routing costs (or the noise of a shared machine), "
                  "not the speed-up a follower on a machine of its own would give."]
    return lines


def _setup_rows(results: dict) -> list[str]:
    ten = next((row for row in results["rows"] if row.get("setups")), None)
    if not ten:
        return []
    lines = ["", "## Worker setup", "",
             "The configured default (`gunicorn.conf.py` with this environment) and sync workers "
             "(`GUNICORN_CMD_ARGS=\"--worker-class sync --threads 1\"`), one server after the other at "
             f"{ten['size']:,} movies:", "",
             "| setup | /health req/s | /health p99 ms | list pages 1..500 req/s | list p99 ms | list / health | "
             "peak RSS / worker MB |", "|---|---:|---:|---:|---:|---:|---:|"]
    for key in ("default", "sync"):
        s = ten["setups"][key]
        health, listed = s["scenarios"][HEALTH], s["scenarios"][LIST_500]
        lines.append(f"| {key}: {s['label']} | {health['rps']:,.0f} | {health['p99']:.1f} | {listed['rps']:,.0f} | "
                     f"{listed['p99']:.1f} | {listed['rps'] / health['rps']:.2f} | {max(s['rss_mb']):.0f} |")
    return lines


def _statements(row: dict, name: str) -> str:
    if name == HEALTH:
        return "0"
    path = counted_path(name)
    if path and row.get("statements") and path in row["statements"]:
        return str(row["statements"][path])
    return "mixed" if name == WRITES else ""


def write(results: dict, markdown_path: Path, png_path: Path) -> None:
    meta = results["meta"]
    setup = next((row["setup"]["label"] for row in results["rows"] if "setup" in row), "?")
    limiter = "with Redis" if meta["redis"] else "counting in each process's memory (no Redis)"
    lines = [
        "# Benchmark results",
        "",
        f"Made by `make bench` on {meta['date']} (commit `{meta['commit']}`, in {meta['seconds'] // 60} min "
        f"{meta['seconds'] % 60} s): "
        f"{meta['cores']} cores, Python {meta['python']}, PostgreSQL {meta['postgresql']} on the same machine, "
        f"gunicorn ({setup}) in the production configuration (RS256 tokens checked against a JWKS, the rate "
        f"limiter on {limiter}, the access log written), wrk with {meta['connections']} connections for "
        f"{meta['duration']} s per scenario after {meta['warmup']} s of warm-up, from a second process. Every "
        "figure below comes from this one run (all of them in `bench/results.json`); compare ratios, not "
        "absolute numbers, across machines. `bench/README.md` says how to reproduce them and what each "
        "scenario measures.",
        "",
        "## Targets (issue 16)",
        "",
        *targets(results),
    ]
    lines += issue25(results) + issue23(results) + issue24(results)
    if results["failures"]:
        lines += ["", "**The run's gate failed:**", "", *(f"- {failure}" for failure in results["failures"])]
    lines += _setup_rows(results)
    lines += ["", "## Every figure", "",
              "| movies | scenario | req/s | p50 ms | p99 ms | failed (non-2xx, non-304 or socket error) | "
              "SQL statements / request | peak RSS / worker MB |",
              "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for row in results["rows"]:
        rss = max(row["rss_mb"], default=0)
        for name, m in row["scenarios"].items():
            lines.append(f"| {row['size']:,} | {name} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} | "
                         f"{m['failed']} | {_statements(row, name)} | {rss:.0f} |")
        for name, tps in row["pgbench"].items():
            lines.append(f"| {row['size']:,} | {name} (tps) | {tps:,.0f} | | | | {PGBENCH_STATEMENTS.get(name, 1)} | |")
    lines += ["", "`any page (1..size/20)`: random pages over the whole list (1..5,000 at 100k, 1..50,000 at 1M); "
              "pgbench rows are transactions per second of one SQL statement each. Load times: "
              + "; ".join(f"{row['size']:,} movies {row['load_seconds']} s" for row in results["rows"]) + "."]
    counted = next((row["statements"] for row in reversed(results["rows"]) if row.get("statements")), None)
    if counted:
        lines += ["", "SQL statements per request of every counted path (in-process, the second of two identical "
                  "requests; the CI gate compares them with `bench/statements.json`):", ""]
        lines += [f"- `{path}`: {count}" for path, count in counted.items()]
    lines.append("")
    markdown_path.write_text("\n".join(lines))
    chart(results, png_path)


def chart(results: dict, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    sizes = [row["size"] for row in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 6.2))
    tab20 = plt.get_cmap("tab20").colors
    colours = tab20[0::2] + tab20[1::2]  # ten distinct colours, then their lighter shades
    series = [(name, "scenarios") for name in CHART] + [
        (name, "pgbench") for name in (PG_LIST_50, PG_LIST_500, PG_ANY_PAGE, PG_SEARCH)]
    for index, (name, kind) in enumerate(series):
        points = [(row["size"], row[kind][name]) for row in rows if name in row[kind]]
        if not points:
            continue
        style = {"color": colours[index % len(colours)], "label": name, "marker": "o" if kind == "scenarios" else "s",
                 "linestyle": "-" if kind == "scenarios" else "--"}
        x = [size for size, _ in points]
        if kind == "scenarios":
            left.plot(x, [m["rps"] for _, m in points], **style)
            right.plot(x, [m["p99"] for _, m in points], **style)
        else:
            left.plot(x, [tps for _, tps in points], **style)
    for axis, title in ((left, "throughput (req/s; pgbench: tps, dashed)"), (right, "p99 latency (ms)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xticks(sizes, [f"{s:,}" for s in sizes])
        axis.minorticks_off()
        axis.set_xlabel("movies in the database")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"Casting Agency API, {results['meta']['date']} (commit {results['meta']['commit']})", fontsize=10)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="the figures of one run (bench/results.json)")
    parser.add_argument("--out", type=Path, help="where results.md and results.png go (the figures' folder)")
    args = parser.parse_args()
    out = args.out or args.results.parent
    write(json.loads(args.results.read_text()), out / "results.md", out / "results.png")


if __name__ == "__main__":
    main()
