"""The benchmarks' figures, also kept in bench/results.json (one section per benchmark, last run wins)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"


def record(section: str, figures: dict[str, Any]) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[section] = figures
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
