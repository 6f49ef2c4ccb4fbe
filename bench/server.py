"""Start the production web server for one side of the benchmark.

Both sides run the server ``mamori serve`` runs (gunicorn, gthread workers,
same options, see ``mamori.operations.server.MamoriServer``), without the
migrate / demo / task-worker steps. ``DJANGO_SETTINGS_MODULE`` picks the side:
``mamori.settings`` or ``bench.bare_settings``.

    python -m bench.server --port 8123 --workers 2 --threads 4
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    from mamori.operations.server import Bind, MamoriServer

    MamoriServer(
        bind=Bind("127.0.0.1", args.port), workers=args.workers, threads=args.threads
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
