"""`overheard demo` shows alerts in Slack format in the outbox file, with their reasons."""

from __future__ import annotations

import json

from alerts.slack_format import mrkdwn_escape
from listener.demo import run_demo


def test_demo_alerts_are_in_slack_format_with_reasons(tmp_path):
    ws = tmp_path / "demo"
    run_demo(ws)
    lines = [json.loads(x) for x in (ws / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines
    for alert in lines:
        blocks = alert["slack"]["blocks"]
        assert blocks[0]["type"] == "header" and alert["slack"]["text"]
        assert alert["reasons"]
        assert all(f"• {mrkdwn_escape(r)}" in blocks[1]["text"]["text"] for r in alert["reasons"][:6])
        assert "<!channel>" not in json.dumps(alert["slack"])
        if alert["kind"] == "spike":  # the outage's spike (no queue item, so no buttons): what drove it
            assert "What drove it" in json.dumps(blocks)
            continue
        actions = next(b for b in blocks if b["type"] == "actions")
        assert {"queue_claim", "queue_resolve"} <= {e["action_id"] for e in actions["elements"]}
    assert any(a["kind"] == "spike" for a in lines)
    by_author = {a["mentions"][0]["author"]: a for a in lines if a["kind"] == "thread"}
    # the billing complaint spread over three posts surfaces through the repeat-detractor signal
    assert any("@marcus_h complained 2 times before in 3 days" in r for r in by_author["marcus_h"]["reasons"])
    critical = [a for a in lines if a["level"] == "critical" and a["kind"] == "thread"]
    assert critical and any("48k followers" in r for a in critical for r in a["reasons"])
