"""bench/lighthouse.py reads Lighthouse's JSON report: a real one (Lighthouse 12.8.2 on the task
list, desktop preset, under load; trimmed to the fields the bench reads)."""
from __future__ import annotations

import json
import sys

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "bench"))

from lighthouse import median_run, read_report  # noqa: E402

REPORT = json.loads((REPO_ROOT / "tests" / "fixtures" / "lighthouse" / "tasks-desktop.json").read_text())


def test_the_scores_are_the_categories_out_of_100() -> None:
    scores = read_report(REPORT, "desktop")
    assert scores.url == "http://127.0.0.1:40351/tasks" and scores.preset == "desktop"
    assert scores.categories == {"performance": 77, "accessibility": 100, "best-practices": 100}
    assert scores.misses() == ["performance 77 < 90"]


def test_the_audits_that_cost_points_are_told_from_the_hints() -> None:
    scores = read_report(REPORT, "desktop")
    assert scores.failing == [("performance", "Total Blocking Time", 24, "550\xa0ms")]  # Lighthouse spaces units with a no-break space
    hints = {title: value for _, title, _, value in scores.hints}
    assert hints["Avoid an excessive DOM size"] == "4,343 elements"
    assert "Eliminate render-blocking resources" in hints


def test_the_median_run_is_the_middle_performance() -> None:
    runs = [read_report({**REPORT, "categories": {**REPORT["categories"], "performance": {
        **REPORT["categories"]["performance"], "score": score}}}, "mobile") for score in (0.95, 0.7, 0.91)]
    assert median_run(runs).categories["performance"] == 91
