"""An optional written summary of a spike (or a period) by a language model, through any
OpenAI-compatible chat-completions endpoint (`POST {base_url}/chat/completions`: Ollama, vLLM, a
hosted one), configured in [topics.summary].

Its only input is the explanation listener.topics worked out (terms, clusters with one post each,
sources, languages, authors and their shares): the model words what the numbers already say. Off by
default. A hard timeout bounds the whole call (a server that accepts and then trickles or hangs
cannot hold an alert back), and any failure gives no summary: the alert goes out without it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

import requests

from listener.config import SummaryConfig
from listener.topics import Explanation

log = logging.getLogger("overheard.summary")

SYSTEM = ("You write one short paragraph for a marketing team about why mentions of a brand spiked. "
          "Use only the facts in the JSON you are given (terms, near-identical post clusters, sources, "
          "languages, authors, and the share of the spike each covers). Do not invent causes, numbers or "
          "quotes. Plain text, no lists, at most {words} words.")


def _facts(found: Explanation) -> dict[str, Any]:
    data = found.to_dict()
    data.pop("summary", None)
    return data


def _ask(cfg: SummaryConfig, found: Explanation) -> str:
    headers = {"Content-Type": "application/json"}
    if cfg.api_key_env:
        key = os.environ.get(cfg.api_key_env, "")
        if not key:
            raise RuntimeError(f"environment variable {cfg.api_key_env} is not set")
        headers["Authorization"] = f"Bearer {key}"
    body = {
        "model": cfg.model,
        "messages": [
            {"role": "system", "content": SYSTEM.format(words=cfg.max_words)},
            {"role": "user", "content": json.dumps(_facts(found), ensure_ascii=False)},
        ],
        "temperature": 0.2,
        "max_tokens": cfg.max_words * 3,
        "stream": False,
    }
    url = cfg.base_url.rstrip("/") + "/chat/completions"
    response = requests.post(url, json=body, headers=headers, timeout=(cfg.timeout_seconds, cfg.timeout_seconds))
    response.raise_for_status()
    choice = (response.json().get("choices") or [{}])[0]
    text = ((choice.get("message") or {}).get("content") or "").strip()
    if not text:
        raise RuntimeError("the answer had no message content")
    words = text.split()
    return " ".join(words[: cfg.max_words * 2])  # a runaway answer is cut, not sent whole


def summarise(cfg: SummaryConfig, found: Explanation) -> str | None:
    """The model's summary of `found`, or None when off, not configured, failing or slower than the timeout."""
    if not cfg.enabled or not cfg.model or not (found.terms or found.clusters):
        return None
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["text"] = _ask(cfg, found)
        except Exception as exc:  # any failure of the endpoint means no summary, never no alert
            result["error"] = exc

    worker = threading.Thread(target=run, name="overheard-summary", daemon=True)
    worker.start()
    worker.join(cfg.timeout_seconds)
    if worker.is_alive():
        log.warning("summary: %s did not answer within %.0f s; sending without a summary",
                    cfg.base_url, cfg.timeout_seconds)
        return None
    if "error" in result:
        log.warning("summary: %s failed (%s); sending without a summary", cfg.base_url,
                    type(result["error"]).__name__ + ": " + str(result["error"])[:200])
        return None
    return result.get("text")
