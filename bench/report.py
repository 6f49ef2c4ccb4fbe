"""Shared results files of the benchmarks: bench/results.json and bench/results.md.

Each benchmark owns one key in ``results.json`` and one section of ``results.md``
(between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``), so benchmarks of
different issues update their own figures without touching the others'.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results.json"
RESULTS_MD = BENCH_DIR / "results.md"

HEADER = """# Benchmark results

Produced by `bench/run` (`make bench`); each section says how it was measured, and
`bench/README.md` describes every benchmark. Do not edit by hand: re-run the benchmark.
"""


def load_json() -> dict:
    if RESULTS_JSON.exists():
        try:
            return json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
        except ValueError:
            pass
    return {}


def save_json_section(name: str, value) -> dict:
    data = load_json()
    data[name] = value
    RESULTS_JSON.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return data


def load_runs(path: Path) -> dict:
    """A benchmark's own results file (``results-<name>.json``): ``{"runs": {kind: run}, …}``."""
    data: dict = {"runs": {}}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            pass
    return data


def save_run_file(path: Path, kind: str, run: dict, *, machine: dict | None = None) -> dict:
    """Store one run (per database or size: ``kind``) in a benchmark's own results file, with the
    machine it ran on when given; returns the whole file's data (to render the markdown)."""
    data = load_runs(path)
    data.setdefault("runs", {})[kind] = run
    if machine is not None:
        data["machine"] = machine
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return data


def save_run_section(name: str, kind: str, run: dict, *, machine: dict | None = None) -> dict:
    """The same for a benchmark that keeps its runs under its key ``name`` of results.json."""
    section = load_json().get(name) or {"runs": {}}
    section.setdefault("runs", {})[kind] = run
    if machine is not None:
        section["machine"] = machine
    save_json_section(name, section)
    return section


def save_markdown_section(name: str, text: str) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.strip()}\n{end}"
    current = RESULTS_MD.read_text(encoding="utf-8") if RESULTS_MD.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        current = pattern.sub(lambda _m: block, current)
    else:
        current = current.rstrip() + "\n\n" + block + "\n"
    RESULTS_MD.write_text(current.rstrip() + "\n", encoding="utf-8")
