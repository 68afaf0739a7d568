"""Write bench/results.md (the table and the targets) and bench/results.png (throughput and p99 by size)."""

from __future__ import annotations

import datetime as dt
import os
import platform

LIST = "GET /movies pages 1..50"
LIST_DEEP = "GET /movies pages 1..500"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.0%}" if a and b else "n/a"


def write(results: list[dict], args, markdown_path, png_path) -> None:
    scenarios = [name for name in results[-1] if isinstance(results[-1][name], dict) and "rps" in results[-1][name]]
    lines = [
        "# Benchmark results",
        "",
        f"Made by `make bench` on {dt.date.today().isoformat()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, gunicorn with 2 sync workers in the production configuration "
        f"(RS256 tokens checked against a JWKS, rate limiter on), PostgreSQL on the same machine, "
        f"wrk with {args.connections} connections for {args.duration} s per scenario from a second process. "
        "Every figure below comes from the same run; compare ratios, not absolute numbers, across machines.",
        "",
        "| movies | scenario | req/s | p50 ms | p99 ms | non-2xx |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for row in results:
        for name in scenarios:
            if name in row:
                m = row[name]
                lines.append(f"| {row['size']:,} | {name} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} | "
                             f"{m['non_2xx']} |")
        for pages in (50, 500):
            key = f"pgbench pages 1..{pages}"
            if key in row:
                lines.append(f"| {row['size']:,} | pgbench: the list's SQL, pages 1..{pages} | {row[key]:,.0f} | | | |")
    lines += ["", "SQL statements per request (counted in-process, the same at every size):", ""]
    lines += [f"- `{path}`: {count}" for path, count in results[0]["statements"].items()]
    lines += ["", "Peak RSS per gunicorn worker (MB): " + "; ".join(
        f"{row['size']:,} movies: " + ", ".join(f"{mb:.0f}" for mb in row["rss_mb"]) for row in results)]

    by_size = {row["size"]: row for row in results}
    lines += ["", "## Targets", ""]
    ten = by_size.get(10_000)
    if ten:
        deep = ten.get(LIST_DEEP, {}).get("rps")
        lines.append(f"- list (pages 1..500, 10k movies) vs pgbench doing the same SQL: "
                     f"**{_ratio(deep, ten.get('pgbench pages 1..500'))}** (target 50%)")
        lines.append(f"- list (pages 1..500, 10k movies) vs the app's own /health: "
                     f"**{_ratio(deep, ten['GET /health']['rps'])}** (target 15%)")
    if 1_000 in by_size and 100_000 in by_size:
        lines.append(f"- list (pages 1..50) at 100k movies vs at 1k: "
                     f"**{_ratio(by_size[100_000][LIST]['rps'], by_size[1_000][LIST]['rps'])}** (target 80%)")
    lines.append("- statements per request: constant for every list endpoint (see above; the CI gate fails otherwise)")
    lines += ["", "## Reading the figures", "", NOTES, ""]
    markdown_path.write_text("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [row["size"] for row in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in (LIST, LIST_DEEP, "GET /movies?q=", "GET /movies/{id}", "GET /actors?min_age=", "GET /health"):
        points = [(row["size"], row[name]) for row in results if name in row]
        if points:
            left.plot([p[0] for p in points], [p[1]["rps"] for p in points], marker="o", label=name)
            right.plot([p[0] for p in points], [p[1]["p99"] for p in points], marker="o", label=name)
    pg = [(row["size"], row["pgbench pages 1..50"]) for row in results if "pgbench pages 1..50" in row]
    left.plot([p[0] for p in pg], [p[1] for p in pg], marker="s", linestyle="--", label="pgbench (list SQL)")
    for axis, title in ((left, "throughput (req/s)"), (right, "p99 latency (ms)")):
        axis.set_xscale("log")
        axis.set_xticks(sizes, [f"{s:,}" for s in sizes])
        axis.set_xlabel("movies in the database")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    left.set_yscale("log")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


NOTES = """\
- **/health** is the framework's ceiling here: Flask, gunicorn's sync workers and the wrk process
  share the same two cores, so no endpoint that talks to PostgreSQL can come close to it.
- **pgbench** runs the list's SQL (the page with its cast aggregated as JSON, plus `COUNT(*)`) with no
  HTTP, no Python and no JSON encoding in between; the app's list is measured against it.
- The list path runs three statements (the total, the page, the casts of the page) as plain rows (no ORM
  objects); the unfiltered `total` comes from `table_counts`, kept exact by triggers, so it does not
  grow with the table. A verified token is cached (bounded, honouring `exp`), so RSA verification
  happens once per token, not per request; the JWKS is fetched once and refreshed in the background.
- Each request also pays for a pool pre-ping (`SELECT 1` on checkout), the price of recovering from a
  database outage by itself, and for the rate limiter's bookkeeping.
- Deep pages cost more at any size: `OFFSET` walks the skipped rows; the 1k/100k comparison therefore
  uses the same pages (1..50) at both sizes.
"""
