"""The dashboard's Lighthouse scores (issue 21.8): local mode with a realistic store
(bench/showcase.py: 240 tasks with pull requests, CI and costs over two weeks, a 5,000-line log),
Lighthouse (npm, `make lighthouse`) driving Debian's Chromium on the overview, the task list and that
task's page, with the desktop and the mobile preset. Prints accessibility, best practices and
performance against their goals (>= 95, >= 95, >= 90) and the audits that cost points, of the run
with the median performance of 3 (Lighthouse's own advice: one run's performance varies with the
machine's load).

    .venv/bin/python bench/lighthouse.py [--tasks 240] [--runs 3] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from showcase import LOG_LINES, showcase  # noqa: E402

LIGHTHOUSE = ROOT / ".deps" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
GOALS = {"accessibility": 95, "best-practices": 95, "performance": 90}


@dataclass(frozen=True)
class Scores:
    """One Lighthouse report, read: each category's score (0-100), the audits that cost points and
    the ones that only hint (Lighthouse weighs them 0: render-blocking files, DOM size, ...)."""

    url: str
    preset: str
    categories: dict[str, int]
    # (category, audit title, score 0-100, what it measured) of every scored audit that did not pass.
    failing: list[tuple[str, str, int, str]]
    hints: list[tuple[str, str, int, str]]

    def misses(self) -> list[str]:
        return [f"{name} {self.categories.get(name, 0)} < {goal}" for name, goal in GOALS.items()
                if self.categories.get(name, 0) < goal]


def read_report(report: dict[str, Any], preset: str) -> Scores:
    """The figures of a Lighthouse JSON report (`--output=json`). An audit passes at 0.9, as
    Lighthouse colours it; manual, informative and not-applicable ones have no score to miss."""
    audits = report["audits"]
    categories: dict[str, int] = {}
    failing: list[tuple[str, str, int, str]] = []
    hints: list[tuple[str, str, int, str]] = []
    for name, category in report["categories"].items():
        categories[name] = round((category["score"] or 0) * 100)
        for ref in category["auditRefs"]:
            audit = audits[ref["id"]]
            if audit["scoreDisplayMode"] not in ("binary", "numeric", "metricSavings"):
                continue
            if audit["score"] is not None and audit["score"] < 0.9:
                found = (name, audit["title"], round(audit["score"] * 100), audit.get("displayValue", ""))
                (failing if ref["weight"] else hints).append(found)
    return Scores(report["finalDisplayedUrl"], preset, categories, failing, hints)


def median_run(runs: list[Scores]) -> Scores:
    return sorted(runs, key=lambda run: run.categories.get("performance", 0))[len(runs) // 2]


def lighthouse(url: str, preset: str, token: str, out: Path) -> Scores:
    args = [str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={out}",
            "--only-categories=accessibility,best-practices,performance",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu --no-first-run",
            f"--extra-headers={json.dumps({'Cookie': f'optio_session={token}'})}"]
    if preset == "desktop":
        args.append("--preset=desktop")
    subprocess.run(args, check=True, env={**os.environ, "CHROME_PATH": CHROMIUM})
    return read_report(json.loads(out.read_text()), preset)


def version() -> str:
    return subprocess.run([str(LIGHTHOUSE), "--version"], capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=240)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="where to keep the JSON reports")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        sys.exit("Lighthouse is not installed: run `make lighthouse`")
    tmp = Path(tempfile.mkdtemp(prefix="optio-bench-lighthouse-"))
    reports = args.keep or tmp
    reports.mkdir(parents=True, exist_ok=True)
    with showcase(tmp, args.tasks) as (mode, detail):
        results = [median_run([lighthouse(f"{mode.url}{path}", preset, mode.token,
                                          reports / f"{name}-{preset}-{run}.json") for run in range(args.runs)])
                   for name, path in (("overview", "/"), ("tasks", "/tasks"), ("task-detail", f"/tasks/{detail}"))
                   for preset in ("desktop", "mobile")]
    print(f"Lighthouse {version()} on local mode, {args.tasks} tasks, a {LOG_LINES:,}-line log on the task's page, "
          f"median of {args.runs} runs (goals: accessibility >= 95, best practices >= 95, performance >= 90):")
    for result in results:
        figures = ", ".join(f"{name} {result.categories.get(name, 0)}" for name in GOALS)
        misses = result.misses()
        print(f"  {result.url.removeprefix(mode.url) or '/'} ({result.preset}): {figures};"
              f"  {'MISSES ' + '; '.join(misses) if misses else 'meets every goal'}")
        for category, title, score, value in result.failing:
            print(f"      {category}: {title} ({score}{', ' + value if value else ''})")
        if result.hints:
            print(f"      hints: {'; '.join(title + (f' ({value})' if value else '') for _, title, _, value in result.hints)}")
    print(f"(reports: {reports})")


if __name__ == "__main__":
    main()
