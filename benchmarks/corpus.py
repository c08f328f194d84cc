"""Realistic generated mentions for the benchmarks: several brands, sources, languages, threads and authors.

Deterministic (seeded). Texts are composed from many fragments, so they vary in length, words,
emoji, handles, links and hashtags the way posts do; nothing here was used to train or tune a scorer.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from listener.models import iso

# Own brands (with their competitor) as the benchmark config tracks them.
BRANDS = [
    ("Brightwave", "@BrightwaveHelp", "Lumacell"),
    ("Northwind Air", "@NorthwindAir", "SkyPort"),
    ("Pixelcart", "@PixelcartCare", "Shopora"),
]
COMPETITORS = ["Lumacell", "SkyPort", "Shopora"]

CONFIG = """\
[[brands]]
name = "Brightwave"
keywords = ["Brightwave"]
handles = ["@BrightwaveHelp"]
competitors = ["Lumacell"]

[[brands]]
name = "Northwind Air"
keywords = ["Northwind Air", "Northwind"]
handles = ["@NorthwindAir"]
competitors = ["SkyPort"]

[[brands]]
name = "Pixelcart"
keywords = ["Pixelcart"]
handles = ["@PixelcartCare"]
competitors = ["Shopora"]

[[competitors]]
name = "Lumacell"
keywords = ["Lumacell"]

[[competitors]]
name = "SkyPort"
keywords = ["SkyPort"]

[[competitors]]
name = "Shopora"
keywords = ["Shopora"]
"""

THINGS = ["app", "bill", "refund", "delivery", "flight", "router", "order", "support chat", "website",
          "checkout", "engineer visit", "upgrade", "contract", "baggage", "seat", "parcel", "invoice",
          "signal", "password reset", "loyalty points"]
EN_OPEN = ["", "", "Honestly, ", "Ok so ", "Update: ", "PSA: ", "lol ", "Day 3 and ", "Not gonna lie, ",
           "Quick question - ", "Again?! ", "So ", "Wow. ", "Just saying, "]
EN_POS = ["{b} sorted my {t} in five minutes, really impressed",
          "loving the new {b} {t}, so much easier than before",
          "shout out to {h} for the quick help with my {t}!",
          "{b} {t} was smooth and the staff were lovely",
          "three years with {b} and never a problem with the {t}. happy customer",
          "the {b} team went above and beyond with my {t} today, thank you",
          "great experience with {b}, {t} arrived early and everything works",
          "{b} just upgraded my {t} for free, nice surprise :)"]
EN_NEU = ["does anyone know if {b} changed the {t} rules?",
          "thinking about moving to {b}, how is their {t}?",
          "{b} {t} email arrived today, reading it now",
          "comparing {b} and {c} for the {t}, any tips",
          "is {h} doing the new {t} thing yet?",
          "{b} {t} booked for Thursday",
          "what does {b} charge for a {t} these days"]
EN_NEG = ["{b} {t} broke again, this is ridiculous",
          "still waiting on my {t} from {b}. two hours on hold. awful",
          "{h} you charged me twice and nobody can fix my {t}. I want a refund",
          "worst {t} experience ever with {b}, never again",
          "{b} customer service is useless, the {t} has been broken for a week",
          "really disappointed with the {b} {t}, switching to {c}",
          "thanks for nothing {h}, my {t} is still not sorted",
          "{b} cancelled my {t} without notice and still took the money. scam",
          "great job {h}, third {t} failure this month. amazing service as always",
          "the {b} {t} is a joke, nobody answers and nobody cares"]
EN_TAIL = ["", "", "", " 😡", " 🙄", " 🙏", " 👍", " #fail", " #customerservice", " https://t.co/x8Rk2Lm",
           " (again)", "!!", "...", " cc @consumerwatch", " thread below", " 10/10", " not happy"]
OTHER = {
    "es": ["{b} me ha cobrado dos veces el {t}, qué vergüenza", "muy contento con {b}, el {t} llegó rápido",
           "alguien sabe si {b} ha cambiado el {t}?", "servicio pésimo de {b}, llevo una semana sin {t}",
           "gracias {h} por la ayuda, todo resuelto"],
    "de": ["{b} hat meine {t} schon wieder verloren, unglaublich", "super Service von {b}, danke!",
           "weiß jemand, ob {b} die {t} Regeln geändert hat?", "seit drei Tagen warte ich auf {b}, miserabel",
           "{h} bitte um Rückruf wegen meiner {t}"],
    "fr": ["{b} m'a facturé deux fois, service client nul", "très contente de {b}, livraison rapide",
           "quelqu'un sait si {b} a changé ses tarifs ?", "toujours pas de réponse de {h}, c'est honteux",
           "merci {b} pour le geste commercial"],
    "pt": ["{b} cobrou duas vezes e ninguém resolve", "adorei o atendimento da {b}, muito rápido",
           "alguém sabe se a {b} mudou o {t}?", "péssimo serviço da {b}, nunca mais"],
    "ja": ["{b}のアプリがまた落ちた。最悪", "{b}のサポートは対応が早くて助かりました",
           "{b}の新しいプランってどうなの？"],
}
REDDIT_BODY = ["I've been a customer for {n} years and this is the first time I've had to post. ",
               "Long story short, the {t} was wrong and support kept transferring me. ",
               "They told me it would be fixed within 48 hours. That was last week. ",
               "To be fair the first agent was helpful, but nothing happened after that. ",
               "Has anyone had luck with the complaints team or should I go to the ombudsman? ",
               "Edit: they finally called back and offered a credit, we'll see. ",
               "For context I'm on the cheapest plan, nothing fancy. "]


@dataclass
class CorpusShape:
    """How the generated stream looks: shares of sources, languages, replies and duplicates."""

    days: int = 30
    reply_share: float = 0.35
    duplicate_share: float = 0.01  # re-sent rows (same id): the dedupe has work to do
    malformed_share: float = 0.001  # rows without text: quarantined, the rest imported


def _sentiment_text(rng: random.Random, lang: str, brand: tuple[str, str, str], mood: str) -> str:
    name, handle, competitor = brand
    thing = rng.choice(THINGS)
    if lang != "en":
        template = rng.choice(OTHER[lang])
    else:
        template = rng.choice({"pos": EN_POS, "neu": EN_NEU, "neg": EN_NEG}[mood])
        template = rng.choice(EN_OPEN) + template + rng.choice(EN_TAIL)
    ref_handle = handle if rng.random() < 0.4 else name
    return template.format(b=name, h=ref_handle, t=thing, c=competitor)


def generate(n: int, seed: int = 7, shape: CorpusShape | None = None,
             end: datetime | None = None) -> Iterator[dict]:
    """Yield n rows as a file import reads them (the file source's default field names)."""
    shape = shape or CorpusShape()
    rng = random.Random(seed)
    end = end or datetime(2026, 11, 24, tzinfo=UTC)
    start = end - timedelta(days=shape.days)
    step = timedelta(days=shape.days) / max(n, 1)
    authors = max(50, n // 6)
    threads: list[tuple[str, str, tuple[str, str, str]]] = []  # (source, thread id, brand) recent roots
    emitted: list[dict] = []
    for i in range(n):
        at = start + step * i
        if emitted and rng.random() < shape.duplicate_share:
            again = dict(rng.choice(emitted[-500:]))
            again["engagement"] = int(again.get("engagement") or 0) + rng.randrange(1, 20)
            yield again
            continue
        if rng.random() < shape.malformed_share:
            yield {"id": f"bad{i}", "created_at": iso(at), "source": "x"}
            continue
        source = rng.choices(["x", "reddit", "appstore"], weights=[55, 30, 15])[0]
        lang = rng.choices(["en", "es", "de", "fr", "pt", "ja"], weights=[76, 7, 6, 5, 4, 2])[0]
        mood = rng.choices(["pos", "neu", "neg"], weights=[35, 35, 30])[0]
        # Author popularity is skewed: a few accounts post a lot (the repeat detractors live there).
        author_n = int(authors * (rng.random() ** 1.5))
        row: dict = {
            "id": f"{source}{i}", "source": source, "created_at": iso(at),
            "author": f"user{author_n}", "author_id": str(author_n),
            "followers": int(rng.paretovariate(1.2) * 40), "verified": rng.random() < 0.01,
            "engagement": int(rng.paretovariate(1.5)) - 1,
        }
        reply_to = None
        if source != "appstore" and threads and rng.random() < shape.reply_share:
            # Replies go to recent threads, mostly the newest (conversations die down).
            reply_to = threads[-1 - int(min(len(threads), 300) * rng.random() ** 2)]
            if reply_to[0] != source:
                reply_to = None
        brand = reply_to[2] if reply_to else rng.choices(BRANDS, weights=[50, 30, 20])[0]
        if rng.random() < 0.12 and not reply_to:
            comp = rng.choice(COMPETITORS)
            brand = (comp, comp, brand[0])
        text = _sentiment_text(rng, lang, brand, mood)
        if source == "reddit" and not reply_to:
            row["title"] = text[:120]
            text = "".join(rng.sample(REDDIT_BODY, rng.randrange(1, 5))).format(
                n=rng.randrange(2, 15), t=rng.choice(THINGS)) + f"({brand[0]})"
        elif source == "reddit":
            text += " " + "".join(rng.sample(REDDIT_BODY, rng.randrange(0, 3))).format(
                n=rng.randrange(2, 15), t=rng.choice(THINGS))
        elif source == "appstore":
            row["stars"] = {"pos": rng.choice([4, 5]), "neu": 3, "neg": rng.choice([1, 2])}[mood]
            row["title"] = rng.choice(["Review", "Update ruined it", "Love it", "Meh", "Crashes", "Works"])
        if source == "x":
            row["lang"] = lang  # X tags a language; Reddit and app stores do not
        row["text"] = text.strip()
        if reply_to:
            row["thread_id"], row["parent_id"] = reply_to[1], reply_to[1]
        elif source != "appstore":
            threads.append((source, row["id"], brand))
            if len(threads) > 5000:
                del threads[:1000]
        emitted.append(row)
        if len(emitted) > 2000:
            del emitted[:1000]
        yield row


def write_jsonl(path: Path, n: int, seed: int = 7) -> list[str]:
    """Write n generated rows to path; returns the text of every row with text (for raw VADER)."""
    texts = []
    with open(path, "w", encoding="utf-8") as fh:
        for row in generate(n, seed):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            if "text" in row:
                texts.append((row["title"] + "\n" + row["text"]) if row.get("title") else row["text"])
    return texts
