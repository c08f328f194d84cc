"""The web list page's change stamp (alerts.web.routes._filter_choices) on PostgreSQL: EXPLAIN ANALYZE of
the statement before migration 290 (`MAX(rowid) FROM scores`, translated to `MAX(ctid)`) and of today's,
on one store of N mentions built by benchmarks.scale.build_history.

Run:  .ci/with-postgres nice -n 19 .venv/bin/python -m benchmarks.filter_stamp [--mentions 200000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

OLD = ("SELECT (SELECT MAX(id) FROM mentions), (SELECT MAX(ctid) FROM scores), (SELECT MAX(id) FROM queue_events), "
       "(SELECT COUNT(*) FROM queue_items), (SELECT MAX(updated_at) FROM queue_items)")
NEW = ("SELECT (SELECT MAX(id) FROM mentions), (SELECT MAX(scored_at) FROM scores), "
       "(SELECT MAX(id) FROM queue_events), (SELECT COUNT(*) FROM queue_items), "
       "(SELECT MAX(updated_at) FROM queue_items)")


def main() -> None:
    import psycopg

    from benchmarks.backends import store_config
    from benchmarks.scale import build_history
    from listener.config import load_config
    from listener.store import Store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=200_000)
    args = parser.parse_args()
    url = os.environ.pop("OVERHEARD_TEST_DATABASE_URL", None) or os.environ.get("OVERHEARD_DATABASE_URL")
    if not url:
        parser.exit(2, "filter_stamp: run under .ci/with-postgres (or set OVERHEARD_DATABASE_URL)\n")
    schema = f"stamp_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "overheard.toml").write_text(store_config("postgresql", f"{url}?schema={schema}"))
        config = load_config(Path(tmp) / "overheard.toml", check_secrets=False)
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
        with Store(config.database) as store:
            build_history(config, store, args.mentions, end)
            print(f"{store.scalar('SELECT COUNT(*) FROM mentions'):,} mentions, "
                  f"{store.scalar('SELECT COUNT(*) FROM queue_items'):,} queue items", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute("SET jit = off")
            conn.execute("VACUUM ANALYZE")
            for label, sql in (("before (MAX(ctid) FROM scores)", OLD), ("after (migration 290)", NEW)):
                for _ in range(3):
                    conn.execute(sql).fetchall()
                plan = [r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)]
                times = []
                for _ in range(20):
                    t = time.perf_counter()
                    conn.execute(sql).fetchall()
                    times.append((time.perf_counter() - t) * 1000)
                times.sort()
                print(f"--- {label}: {plan[-1]}; from the client, median {times[10]:.2f} ms over 20 runs")
                print("\n".join(plan), flush=True)
        finally:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
