"""Google Play's review endpoint (POST /_/PlayStoreUi/data/batchexecute, rpc oCPfdb) on 127.0.0.1.

Each review is the positional list Play sends: [id, [name, [avatar]], score, None, text, [secs, nanos],
thumbs-up, [None, developer reply, [secs, nanos]] | None, None, None, app version, ...]. The answer is
`)]}'` + a JSON envelope whose third field is the page as a JSON string: [reviews, [None, next token] | None, None].
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from werkzeug import Request, Response


@dataclass
class PlayReview:
    id: str
    stars: Any
    text: Any
    when: datetime | Any
    user: str = "Jordan K"
    thumbs: int = 0
    version: str | None = "5.2.1"
    reply: str | None = None
    replied: datetime | None = None

    def raw(self) -> list[Any]:
        when = [int(self.when.timestamp()), 123000000] if isinstance(self.when, datetime) else self.when
        reply = None
        if self.reply:
            reply = [None, self.reply, [int((self.replied or self.when).timestamp()), 0]]
        return [self.id, [self.user, [None, 2, None, [None, None, "https://play-lh.googleusercontent.com/a/x"]]],
                self.stars, None, self.text, when, self.thumbs, reply, None, None, self.version, None,
                [None, None, None, None, [None, None, [2]]]]


class PlayFake:
    """Serves `reviews[app_id]` newest first, `count` a page, with continuation tokens; records each request."""

    def __init__(self, reviews: dict[str, list[PlayReview | list[Any]]]) -> None:
        self.reviews = reviews
        self.requests: list[dict[str, Any]] = []
        self.fail_next: list[tuple[int, str, dict[str, str]]] = []

    def __call__(self, request: Request) -> Response:
        freq = parse_qs(request.get_data(as_text=True))["f.req"][0]
        inner = json.loads(json.loads(freq)[0][0][1])
        count, paging = inner[1][2][0], inner[1][2]
        token = paging[2] if len(paging) > 2 else None
        app_id = inner[2][0]
        self.requests.append({"app": app_id, "count": count, "token": token, "sort": inner[1][1],
                              "hl": request.args.get("hl"), "gl": request.args.get("gl")})
        if self.fail_next:
            status, body, headers = self.fail_next.pop(0)
            return Response(body, status=status, headers=headers)
        items = [r.raw() if isinstance(r, PlayReview) else r for r in self.reviews.get(app_id, [])]
        start = int(token.removeprefix("tok-")) if token else 0
        page = items[start:start + count]
        more = start + count < len(items)
        body = [page, [None, f"tok-{start + count}"] if more else None, None]
        envelope = [["wrb.fr", "oCPfdb", json.dumps(body), None, None, None, "generic"], ["di", 45],
                    ["af.httprm", 44, "-3861591512624567431", 1]]
        return Response(")]}'\n\n" + json.dumps(envelope), content_type="application/json; charset=utf-8")
