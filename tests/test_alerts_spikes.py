"""Spike alerts: negative volume and share per brand against the previous 24 h and the same hour last week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.outbox import deliver_pending
from alerts.rules import evaluate_pending
from alerts.spikes import detect
from listener.models import iso
from listener.store import Store
from tests.alerts_support import Recorder, alerts_config

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _add(store, brand, when, n, negative):
    with store.transaction() as conn:
        for i in range(n):
            label = "negative" if i < negative else "positive"
            conn.execute(
                "INSERT INTO mentions (source, native_id, brand, author, text, created_at, collected_at, thread_key, "
                "label, compound, detractor, scored_at) VALUES ('x', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (f"{brand}-{iso(when)}-{i}", brand, f"user{i}", f"{label} about {brand} #{i}", iso(when + timedelta(
                    seconds=i)), iso(when), f"x:{brand}-{iso(when)}-{i}", label, -0.6 if label == "negative" else 0.6,
                 int(label == "negative"), iso(when)),
            )


def _baseline(store, brand, per_hour=4, negative=1):
    for h in range(2, 26):
        _add(store, brand, NOW - timedelta(hours=h, minutes=-10), per_hour, negative)
    _add(store, brand, NOW - timedelta(days=7, minutes=50), per_hour, negative)


def _config(tmp_path, spikes=""):
    return alerts_config(tmp_path, """
    [[alerts.receivers]]
    name = "rec"
    type = "file"
    max_per_hour = 0
    """, """
    [[alerts.rules]]
    name = "spikes"
    kinds = ["spike"]
    receivers = ["rec"]
    group_interval_minutes = 0
    """, extra=spikes)


def test_a_negative_burst_against_a_quiet_baseline_is_a_spike_with_reasons(tmp_path):
    config = _config(tmp_path)
    with Store(config.db_path) as store:
        _baseline(store, "Brightwave")
        _add(store, "Brightwave", NOW - timedelta(minutes=40), 16, 12)
        spike = detect(store, "Brightwave", config.alerts.spikes, config.alerts.levels, NOW)
        assert spike is not None and spike.level == "critical"  # 12 against 1 an hour
        assert spike.reasons[0] == ("12 negative mentions in the last hour vs 1.0 an hour over the previous 24 h "
                                    "(12.0×)")
        assert "same hour last week: 1 negative" in spike.reasons
        assert any(r.startswith("negative share 75% of 16 mentions vs 25%") for r in spike.reasons)
        rec = Recorder("rec", config.receivers[0])
        evaluate_pending(store, config, NOW)
        evaluate_pending(store, config, NOW + timedelta(minutes=15))  # same hour: not again
        deliver_pending(store, {"rec": rec}, NOW + timedelta(minutes=15))
    assert len(rec.sent) == 1
    alert = rec.sent[0][0]
    assert alert.kind == "spike" and alert.title.startswith("Negative spike for Brightwave: 12 negative")
    assert len(alert.mentions) == 3


def test_small_brands_and_usual_busy_hours_do_not_spike(tmp_path):
    config = _config(tmp_path)
    with Store(config.db_path) as store:
        _baseline(store, "Brightwave")
        _add(store, "Brightwave", NOW - timedelta(minutes=30), 6, 5)  # 5x the rate, but only 5 mentions
        assert detect(store, "Brightwave", config.alerts.spikes, config.alerts.levels, NOW) is None
        _add(store, "Lumacell", NOW - timedelta(days=7, minutes=30), 30, 12)  # the same hour last week was as bad
        _add(store, "Lumacell", NOW - timedelta(minutes=30), 30, 12)
        assert detect(store, "Lumacell", config.alerts.spikes, config.alerts.levels, NOW) is None


def test_spike_thresholds_come_from_config(tmp_path):
    config = _config(tmp_path, "[alerts.spikes]\nmin_negative = 3\nratio = 2.5\ncritical_ratio = 10\n")
    with Store(config.db_path) as store:
        _baseline(store, "Brightwave")
        _add(store, "Brightwave", NOW - timedelta(minutes=30), 4, 3)
        spike = detect(store, "Brightwave", config.alerts.spikes, config.alerts.levels, NOW)
    assert spike is not None and spike.level == "warning"


def test_a_brand_silence_mutes_spike_alerts_too(tmp_path):
    from alerts.noise import add_silence

    config = _config(tmp_path)
    with Store(config.db_path) as store:
        _baseline(store, "Brightwave")
        _add(store, "Brightwave", NOW - timedelta(minutes=40), 16, 12)
        add_silence(store, "brand", "Brightwave", NOW + timedelta(hours=2), "ana", "known outage",
                    now=NOW - timedelta(minutes=5))
        assert evaluate_pending(store, config, NOW).spikes == 0
        assert store.scalar("SELECT COUNT(*) FROM outbox") == 0


def test_mentions_set_aside_by_a_stage_do_not_make_a_spike(tmp_path):
    config = _config(tmp_path)
    with Store(config.db_path) as store:
        _baseline(store, "Brightwave")
        _add(store, "Brightwave", NOW - timedelta(minutes=40), 16, 12)
        with store.transaction() as conn:  # the threads stage quarantined this hour's rows (a poisoned batch)
            conn.execute("UPDATE mentions SET quarantined = 'threads' WHERE created_at >= ?",
                         (iso(NOW - timedelta(minutes=45)),))
        assert detect(store, "Brightwave", config.alerts.spikes, config.alerts.levels, NOW) is None
