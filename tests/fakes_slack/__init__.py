"""Local stand-ins for Slack and for a generic webhook receiver, for tests and the daemon helper.

Both are real HTTP servers on 127.0.0.1 (stdlib ThreadingHTTPServer in a thread) that answer like
the real services, so the real slack_sdk / requests clients are exercised. Use:

    slack = FakeSlack().start()
    WebhookClient(slack.webhook_url) / WebClient(slack.token, base_url=slack.api_url)
    slack.fail(status=429, times=1, retry_after=3)   # the next request gets a 429
    slack.messages / slack.webhook_posts / slack.calls  # everything received
    slack.stop()
"""

from __future__ import annotations

from tests.fakes_slack.server import FakeSlack, LocalServer, WebhookReceiver

__all__ = ["FakeSlack", "LocalServer", "WebhookReceiver"]
