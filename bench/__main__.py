"""Run benchmarks: `python -m bench [NAME ...] [OPTIONS]`, e.g. `python -m bench geo --zones 5000`.

Names pick modules (all of them when none is given); everything from the first option on is
passed to each picked module, whose own `--help` lists what it accepts.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import MODULES, Figure, Report

RESULTS = Path(__file__).parent / "results"
USAGE = f"""usage: python -m bench [NAME ...] [OPTIONS]

Benchmarks: {", ".join(MODULES)} (all when no name is given).
Options go to the named modules; see `python -m bench NAME --help`.
Results: printed as a table and written to {RESULTS}/<name>.json.
"""


def main(argv: Sequence[str]) -> int:
    """Run the named benchmark modules (or all) and report each one."""
    split = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = list(argv[:split]), list(argv[split:])
    if not names and options and options[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    unknown = [name for name in names if name not in MODULES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}\n\n{USAGE}", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in names or MODULES:
        module = importlib.import_module(f"bench.{name}")
        started = datetime.now(UTC)
        clock = time.perf_counter()
        report: Report = module.run(options)
        elapsed = time.perf_counter() - clock
        print(format_table(report, elapsed))
        path = RESULTS / f"{name}.json"
        path.write_text(json.dumps(as_json(report, started, elapsed), indent=2) + "\n")
        print(f"results written to {path}\n")
    return 0


def as_json(report: Report, started: datetime, elapsed_s: float) -> dict[str, Any]:
    """The report with when and where it ran, as a JSON document."""
    return {
        "name": report.name,
        "title": report.title,
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round(elapsed_s, 1),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "parameters": report.parameters,
        "figures": [_json_safe(figure.as_json()) for figure in report.figures],
        "notes": report.notes,
    }


def format_table(report: Report, elapsed_s: float) -> str:
    """The report as a plain-text table with the goals beside the measured figures."""
    rows = [("figure", "measured", "goal", "")]
    rows += [(f.name, _value(f), _goal(f), _verdict(f)) for f in report.figures]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        f"== {report.title} ==",
        "   " + ", ".join(f"{k}={v}" for k, v in report.parameters.items()),
        "",
    ]
    for n, row in enumerate(rows):
        lines.append(
            f"  {row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}"
        )
        if n == 0:
            lines.append("  " + "-" * (sum(widths) + 8))
    lines += ["", *(f"  note: {note}" for note in report.notes)]
    lines.append(f"  ({report.name} took {elapsed_s:.0f} s)")
    return "\n".join(lines)


def _value(figure: Figure) -> str:
    if math.isnan(figure.value):
        return "n/a"
    return f"{_number(figure.value)} {figure.unit}"


def _goal(figure: Figure) -> str:
    if figure.goal is None:
        return "-"
    return f"{figure.goal.op} {_number(figure.goal.target)} {figure.unit}"


def _verdict(figure: Figure) -> str:
    if figure.goal is None or math.isnan(figure.value):
        return ""
    return "met" if figure.met else "MISSED"


def _number(value: float) -> str:
    # Enough digits to compare against the goal, without noise on large counts.
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _json_safe(entry: dict[str, Any]) -> dict[str, Any]:
    # JSON has no NaN; a figure that could not be measured is null.
    value = entry["value"]
    if isinstance(value, float) and math.isnan(value):
        return {**entry, "value": None, "met": None}
    return entry


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
