"""In the daemon, collection runs while the process job scores and rolls up threads. A thread rolled up
while some of its mentions were still unscored must be rolled up again once they are scored — found by
the crash test, where a few angry threads never alerted."""

from __future__ import annotations

from listener.config import load_config
from listener.models import Batch, Mention
from listener.pipeline import process
from listener.scoring import build_scorer, score_pending
from listener.store import Store
from listener.threads import rollup_dirty
from tests.daemon_helpers import ANGRY
from tests.helpers import at, write_config


def test_mentions_stored_between_scoring_and_rollup_still_flag_their_thread(tmp_path):
    config = load_config(write_config(tmp_path, """
    [[alerts.receivers]]
    name = "support"
    type = "file"
    path = "alerts.jsonl"
    [alerts.levels]
    warning = 10
    """))
    calm = Mention(source="x", native_id="1", text="Brightwave router arrived today", created_at=at(20),
                   brand="Brightwave", author="a0", thread_id="1")
    angry = [Mention(source="x", native_id=str(i + 2), text=text, created_at=at(20, 12, i + 1), brand="Brightwave",
                     author=f"a{i + 1}", author_followers=40_000, thread_id="1") for i, text in enumerate(ANGRY)]
    with Store(config.db_path) as store:
        store.save_batch("x", "q", Batch([calm]))
        score_pending(store, build_scorer(config))
        store.save_batch("x", "q", Batch(angry))  # a collect job stores these right now...
        rollup_dirty(store, config)  # ...just before the process job rolls the thread up, unscored
        assert store.scalar("SELECT flagged FROM threads") == 0
        process(config, store)  # the next pass scores them
        assert store.scalar("SELECT flagged FROM threads") == 1
        # one thread alert (the posts are old, so the queue item's SLA breaches alert too: rule 'sla')
        assert store.scalar("SELECT COUNT(*) FROM outbox WHERE rule != 'sla'") == 1
