"""IP allowlist check benchmark (issue 4): cost per request with 1,000 entries. Target ≤ 50 µs.

    .venv/bin/python bench/ip_allowlist.py                 # or: bench/run --only ip_allowlist
    .venv/bin/python bench/ip_allowlist.py --entries 5000 --lookups 200000

A worker process (Mamori's settings, a fresh SQLite database in a temporary
``MAMORI_DATA_DIR``, ``migrate``) creates one tenant and saves an enforced allowlist of
``--entries`` networks (70 % IPv4 /16–/32, 30 % IPv6 /32–/128, random, through the
``save_allowlist`` action) and measures, each as the median of 5 rounds:

1. **compile**: turning the tenant's rows into merged, sorted integer ranges
   (``CompiledAllowlist``), which happens once per process and list version;
2. **match**: ``CompiledAllowlist.contains_ip`` for random client addresses (half
   listed, half not; IPv4, IPv6 and IPv4-mapped), and for comparison a linear scan
   ``any(ip in net for net in networks)`` over the same list;
3. **per request (allowed)**: ``enforce_allowlist(request, tenant)`` as the middleware
   calls it, for requests from listed addresses: the cached (enabled, version) state
   (Django's local-memory cache), the client address from ``REMOTE_ADDR`` and the bisect.
   Request objects are built before timing;
4. **per request (refused)**, for scale: the refusal path (database re-check, override
   query, 403 page; the audit event is de-duplicated, so after the first it is not written).

Writes the ``ip_allowlist`` key of ``bench/results.json`` and its section of ``bench/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_US = 50.0


def _rounds(fn, n: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean µs per call of ``fn(i)`` for i in range(n)."""
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        results.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(results)


def _worker(args) -> dict:
    import random

    import django

    django.setup()
    import ipaddress

    from django.core.management import call_command
    from django.test import RequestFactory

    call_command("migrate", verbosity=0)

    from mamori.access.actions_allowlist import save_allowlist
    from mamori.access.allowlist import CompiledAllowlist, compiled_for, enforce_allowlist
    from mamori.access.roles import Role
    from mamori.accounts.models import User
    from mamori.audit.events import Actor
    from mamori.tenancy.actions import create_tenant
    from mamori.tenancy.context import tenant_context

    rng = random.Random(2026)
    networks = set()
    while len(networks) < args.entries:
        if rng.random() < 0.7:
            networks.add(ipaddress.ip_network((rng.getrandbits(32), rng.randint(16, 32)), strict=False))
        else:
            networks.add(ipaddress.ip_network((rng.getrandbits(128), rng.randint(32, 128)), strict=False))
    networks = sorted(networks, key=lambda n: (n.version, n))

    tenant, _admin, _secret = create_tenant(actor=Actor.system("bench"), slug="bench", name="Bench",
                                            admin_email="owner@bench.example")
    listed = [n.network_address + rng.randrange(n.num_addresses) for n in networks]
    with tenant_context(tenant):
        admin = User.objects.get(email="owner@bench.example")
        assert admin.role == Role.TENANT_ADMIN
        t0 = time.perf_counter()
        save_allowlist(actor=Actor.for_user(admin), enabled=True, entries=[(str(n), "bench") for n in networks],
                       current_ip=str(listed[0]))
        save_seconds = time.perf_counter() - t0

    def random_ip():
        if rng.random() < 0.5:
            return ipaddress.ip_address(rng.getrandbits(32))
        return ipaddress.ip_address(rng.getrandbits(128))

    probes = []
    for i in range(args.lookups):
        ip = listed[i % len(listed)] if i % 2 == 0 else random_ip()
        if i % 10 == 4 and ip.version == 4:
            ip = ipaddress.ip_address(f"::ffff:{ip}")
        probes.append(ip)
    compiled = CompiledAllowlist(networks)
    expected = [any(p.version == n.version and p in n for n in networks) for p in probes[:2000]]
    assert [compiled.contains_ip(p) for p in probes[:2000]] == [
        e or (p.version == 6 and p.ipv4_mapped is not None and compiled.contains_ip(p.ipv4_mapped))
        for p, e in zip(probes[:2000], expected, strict=True)]

    figures = {}
    figures["compile_ms"] = _rounds(lambda i: CompiledAllowlist(networks), 20) / 1000
    figures["match_us"] = _rounds(lambda i: compiled.contains_ip(probes[i]), len(probes))
    strings = [str(p) for p in probes]
    figures["match_from_string_us"] = _rounds(lambda i: compiled.contains(strings[i]), len(strings))
    linear_n = min(2000, len(probes))
    figures["linear_scan_us"] = _rounds(
        lambda i: any(probes[i].version == n.version and probes[i] in n for n in networks), linear_n, rounds=3)

    factory = RequestFactory()
    allowed_ips = [str(listed[i % len(listed)]) for i in range(args.requests)]
    refused_n = min(args.requests, 2000)
    with tenant_context(tenant):
        compiled_for(tenant.pk, "")  # nothing to warm: the first request compiles

        def allowed_round() -> float:
            requests = [factory.get("/t/bench/", REMOTE_ADDR=ip) for ip in allowed_ips]
            start = time.perf_counter()
            for request in requests:
                if enforce_allowlist(request, tenant) is not None:
                    raise AssertionError("a listed address was refused")
            return (time.perf_counter() - start) / len(requests) * 1e6

        allowed_round()  # warm: state cached, ranges compiled
        figures["request_allowed_us"] = statistics.median(allowed_round() for _ in range(5))

        refused_ips = []
        while len(refused_ips) < refused_n:
            ip = random_ip()
            if not compiled.contains_ip(ip):
                refused_ips.append(str(ip))

        def refused_round() -> float:
            requests = [factory.get("/t/bench/", REMOTE_ADDR=refused_ips[i % 50]) for i in range(refused_n)]
            start = time.perf_counter()
            for request in requests:
                if enforce_allowlist(request, tenant) is None:
                    raise AssertionError("an unlisted address was allowed")
            return (time.perf_counter() - start) / len(requests) * 1e6

        refused_round()
        figures["request_refused_us"] = statistics.median(refused_round() for _ in range(3))

    from django.db import connection

    return {
        "entries": args.entries,
        "ipv4_entries": sum(1 for n in networks if n.version == 4),
        "merged_ranges": len(compiled._v4_starts) + len(compiled._v6_starts),
        "lookups": args.lookups,
        "requests": args.requests,
        "save_seconds": round(save_seconds, 3),
        **{k: round(v, 3) for k, v in figures.items()},
        "target_us": TARGET_US,
        "meets_target": figures["request_allowed_us"] <= TARGET_US,
        "database": f"SQLite {connection.Database.sqlite_version}",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _markdown(r: dict) -> str:
    verdict = "meets" if r["meets_target"] else "**misses**"
    return f"""## IP allowlist check (`ip_allowlist`)

Target (issue 4): ≤ {r['target_us']:.0f} µs per request with 1,000 entries. Result: **{r['request_allowed_us']:.1f} µs**
per allowed request with {r['entries']:,} entries ({verdict} the target). Method: the docstring of `bench/ip_allowlist.py`.

- date: {r['date']}; {r['cpus']} CPUs, Python {r['python']}, {r['database']} (only read on a cache miss or a refusal)
- list: {r['entries']:,} random networks ({r['ipv4_entries']:,} IPv4, {r['entries'] - r['ipv4_entries']:,} IPv6), merged into {r['merged_ranges']:,} ranges; saved through `save_allowlist` in {r['save_seconds']:.2f} s

| measurement | µs |
|---|---:|
| `enforce_allowlist` per allowed request (cached state, address from `REMOTE_ADDR`, bisect) | {r['request_allowed_us']:.2f} |
| match only: `contains_ip` (bisect on merged integer ranges) | {r['match_us']:.2f} |
| match from a string (parse + bisect) | {r['match_from_string_us']:.2f} |
| for comparison: linear scan `any(ip in net …)` over the same list | {r['linear_scan_us']:.1f} |
| per refused request (database re-check, override query, 403 page; audit de-duplicated) | {r['request_refused_us']:.1f} |
| compile the list (once per process and list version) | {r['compile_ms'] * 1000:.0f} |
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args, _rest = parser.parse_known_args(argv)
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    with tempfile.TemporaryDirectory(prefix="mamori-bench-ipallow-") as data_dir:
        env = {**os.environ, "MAMORI_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "mamori.settings",
               "MAMORI_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        env.pop("DATABASE_URL", None)
        proc = subprocess.run(  # noqa: S603 — our own interpreter and script
            [sys.executable, __file__, "--worker", "--entries", str(args.entries), "--lookups", str(args.lookups),
             "--requests", str(args.requests)],
            env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        return proc.returncode
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    sys.path.insert(0, str(ROOT))
    from bench.report import save_json_section, save_markdown_section

    save_json_section("ip_allowlist", result)
    save_markdown_section("ip_allowlist", _markdown(result))
    print(_markdown(result))
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
