"""In-process look at one side of the benchmark: SQL per request, and a profile.

Runs the three benchmark requests through Django's test client (the whole
middleware stack, no network), with the settings of the side being probed:

    DJANGO_SETTINGS_MODULE=mamori.settings     python -m bench.probe --seed seed.json
    DJANGO_SETTINGS_MODULE=bench.bare_settings python -m bench.probe --seed seed.json
    ... --profile 300 --profile-out bench/profile-sqlite   # cProfile, 300 requests a case

Prints JSON: for each case the status, the number of SQL statements and the
statements themselves (normalised); with ``--timing`` the in-process time per
request (one thread, no network, no contention); with ``--profile`` the per-request
cumulative time of the functions that make up Mamori's layers.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import sys
import time

# (label, file substring, function name[, line]): the layers whose time the profile reports.
LAYERS = [
    ("whole request (handler)", "django/core/handlers/base.py", "get_response"),
    ("RequestIdMiddleware (and all below it)", "mamori/core/middleware.py", "__call__", "first"),
    ("TenantMiddleware._api_request", "mamori/tenancy/middleware.py", "_api_request"),
    ("  token: tenant lookup + verify_api_token", "mamori/accounts/tokens.py", "verify_api_token"),
    ("  tenant_context enter (BEGIN, SET LOCAL)", "mamori/tenancy/context.py", "apply_db_tenant"),
    ("ninja operation (parse, call, serialise)", "ninja/operation.py", "run"),
    ("  api.common.page (runs the list query)", "mamori/api/common.py", "page"),
    ("  ninja result → pydantic → JSON", "ninja/operation.py", "_result_to_response"),
    ("records.actions.create_record", "mamori/records/actions.py", "create_record"),
    ("  audit.events.record_event", "mamori/audit/events.py", "record_event"),
    ("records.queries.access_record", "mamori/records/queries.py", "access_record"),
    ("records.queries.search_records", "mamori/records/queries.py", "search_records"),
    ("SQL: cursor execute (all)", "django/db/backends/utils.py", "_execute"),
    ("transaction commit", "django/db/backends/base/base.py", "commit"),
    ("bare view: records", "bench/bare_views.py", "records"),
    ("bare view: record", "bench/bare_views.py", "record"),
    ("bare view: _create", "bench/bare_views.py", "_create"),
]


def _normalise(sql: str) -> str:
    sql = re.sub(r"'[^']*'", "?", sql)
    sql = re.sub(r"\b\d+\b", "N", sql)
    return sql[:400]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", required=True, help="JSON written by bench.seed")
    parser.add_argument(
        "--timing",
        type=int,
        default=0,
        help="time N requests per case in-process (one thread, no profiler)",
    )
    parser.add_argument("--profile", type=int, default=0, help="requests per case under cProfile")
    parser.add_argument("--profile-out", default="", help="write full pstats text here (prefix)")
    args = parser.parse_args()
    with open(args.seed, encoding="utf-8") as fh:
        seed = json.load(fh)

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    bare = os.environ.get("DJANGO_SETTINGS_MODULE") == "bench.bare_settings"
    headers = {} if bare else {"HTTP_AUTHORIZATION": f"Bearer {seed['token']}"}
    client = Client(**headers)
    record_id = seed["record_ids"][len(seed["record_ids"]) // 2]
    counter = [0]

    def create_body() -> str:
        counter[0] += 1
        return json.dumps(
            {
                "workspace_id": seed["workspace_id"],
                "title": f"Probe record {counter[0]}",
                "body": "Created by the benchmark probe.",
                "properties": {"priority": "high"},
                "label_ids": seed["label_ids"][:2],
            }
        )

    cases = {
        "list": lambda: client.get("/api/v1/records?limit=20"),
        "read": lambda: client.get(f"/api/v1/records/{record_id}"),
        "create": lambda: client.post(
            "/api/v1/records", create_body(), content_type="application/json"
        ),
    }
    out: dict = {"side": "bare" if bare else "mamori", "vendor": connection.vendor, "cases": {}}
    for name, call in cases.items():
        call()  # warm caches (URL resolver, translations, prepared imports)
        with CaptureQueriesContext(connection) as ctx:
            response = call()
        out["cases"][name] = {
            "status": response.status_code,
            "queries": len(ctx.captured_queries),
            "sql": [_normalise(q["sql"]) for q in ctx.captured_queries],
        }
    if args.timing:
        out["timing_ms"] = {}
        for name, call in cases.items():
            samples = []
            cpu_samples = []
            for _ in range(args.timing):
                start = time.perf_counter()
                cpu_start = time.thread_time()
                call()
                cpu_samples.append((time.thread_time() - cpu_start) * 1000)
                samples.append((time.perf_counter() - start) * 1000)
            samples.sort()
            cpu_samples.sort()
            # CPU time of this thread: on SQLite (in-process database) the whole cost of a
            # request, and far less disturbed than wall time when other jobs share the CPUs.
            out["timing_ms"][name] = {
                "median": round(samples[len(samples) // 2], 3),
                "mean": round(sum(samples) / len(samples), 3),
                "cpu_median": round(cpu_samples[len(cpu_samples) // 2], 3),
            }
    if args.profile:
        out["profile"] = {}
        for name, call in cases.items():
            profiler = cProfile.Profile()
            start = time.perf_counter()
            profiler.enable()
            for _ in range(args.profile):
                call()
            profiler.disable()
            wall = (time.perf_counter() - start) / args.profile
            stats = pstats.Stats(profiler)
            layers = {}
            for label, path, func, *which in LAYERS:
                matches = sorted(
                    (line, ct)
                    for (filename, line, funcname), (
                        _cc,
                        _nc,
                        _tt,
                        ct,
                        _callers,
                    ) in stats.stats.items()
                    if funcname == func and filename.replace(os.sep, "/").endswith(path)
                )
                total = (
                    (matches[0][1] if matches else 0.0) if which else sum(ct for _l, ct in matches)
                )
                if total:
                    layers[label] = round(total / args.profile * 1000, 3)
            out["profile"][name] = {
                "wall_ms_per_request_profiled": round(wall * 1000, 3),
                "cumulative_ms_per_request": layers,
            }
            if args.profile_out:
                buf = io.StringIO()
                pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(45)
                buf.write("\n\n=== by own time ===\n")
                pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(30)
                with open(
                    f"{args.profile_out}-{out['side']}-{name}.txt", "w", encoding="utf-8"
                ) as fh:
                    fh.write(buf.getvalue())
                # Raw stats too, to compare call counts function by function (pstats).
                profiler.dump_stats(f"{args.profile_out}-{out['side']}-{name}.prof")
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
