"""Demo data written by the project: a fictional broadband and mobile brand, Brightwave, and its
competitor Lumacell, over two weeks on X, Reddit and app-store reviews. Deterministic (seeded);
times are laid out backwards from an anchor so the demo always shows the last two weeks.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from listener.models import iso

# Background chatter is composed from parts (what happened, where, when, a detail, how it ends), so two
# hundred posts read like two hundred people rather than ten templates on repeat.
PLACES = ["Leeds", "Hull", "Bristol", "Croydon", "the Wirral", "Bath", "Sheffield", "Cardiff", "Derby", "York",
          "Norwich", "Swindon", "Reading", "Luton", "Stockport", "Exeter", "Glasgow", "Salford", "Brighton",
          "Leicester"]
WHEN = ["this morning", "last night", "since Tuesday", "all weekend", "today", "since the storm", "after 6pm",
        "every evening this week", "on Sunday", "since the update"]
STAFF = ["Priya", "Tom", "Kayleigh", "Marcus", "Aisha", "Dev", "Gemma", "Luke", "Sian", "Callum"]
KIT = ["the new hub", "the Wave Hub 3", "the mesh pods", "the old router", "the app", "the eSIM", "the 5G box"]
PLAN = ["900 Mbps fibre", "500 Mbps plan", "the 150 plan", "unlimited SIM", "the family bundle",
        "the student deal", "Fibre Max", "the 12 month SIM only"]

POSITIVE = [
    "Switched to {b} {ago} and honestly the speeds on {plan} are better than advertised",
    "Big thanks to {staff} at {h}, sorted {kit} in about ten minutes. Didn't even have to ask twice",
    "{b} engineer turned up early, tidied the cable and explained everything. Five stars from me",
    "Three years with {b} in {place} and I can count the drops on one hand tbh",
    "ok {b} app update is actually good?? data usage on the home screen finally",
    "Renewed with {b} today and they knocked £{n} off without me haggling. Nice one",
    "Pleasantly surprised: {b} coverage held up all the way along the coast {when}",
    "{plan} from {b} is flying. {speed} down on the wired test 🚀",
    "{h} thanks for the quick reply {when}, all working now",
    "Gaming on {b} fibre, ping sitting at {ping}ms all night. Can't complain",
    "Moved house and {b} had us back online the same day. That never happens",
    "shoutout to the {b} chat team, refund for the outage credit came through already",
    "{b} mesh pods fixed the dead spot in the kitchen, wish I'd done it sooner",
    "Honestly expected the {b} switch to be a faff. It wasn't. Took {n} minutes",
]
NEUTRAL = [
    "Does {b} cover the new estate off Mill Road in {place}? Checker says 'coming soon'",
    "Anyone on {b} {plan}, what speeds do you actually get in the evening?",
    "{b} price rise letter arrived. £{n} a month more from April",
    "Is {h} doing eSIM for the older iPhones yet or still just the new ones?",
    "Choosing between {b} and {c} for the family plan, any strong opinions?",
    "{b} engineer booked for Thursday between 8 and 1, fingers crossed",
    "What router are {b} sending out these days, still the white one?",
    "Has anyone used the {b} travel add-on in Spain? Worth the {n} quid?",
    "Does {b} let you keep your number when you move from {c}?",
    "Filling in the {b} survey about {kit}, they want a lot of detail",
    "{b} is sponsoring the {place} half marathon apparently",
    "just got a text from {b} about a planned works window {when}",
]
NEGATIVE = [
    "{b} internet dropped {n} times {when}. Not great when you work from home",
    "45 minutes in the {b} chat queue just to be told to restart {kit}. Already did that",
    "{b} app keeps logging me out {when}, have to reset my password every time",
    "Paying for {plan} and getting {slow} on a good day. Come on {b}",
    "{b} bill went up £{n} with no email, no letter, nothing. Frustrating",
    "Signal on {b} is useless in central {place}, one bar if I stand by the window",
    "{h} third time asking, when is the engineer actually coming",
    "{b} upload speed has been rubbish {when}, video calls keep freezing",
    "Why does {kit} from {b} need a factory reset every week",
    "Cancelled my {b} add-on and they still charged me for it. Sorting it out again",
    "{b} support closed my ticket without fixing anything. Lovely",
]
POLITE_COMPLAINTS = [
    "Thanks for nothing {h}, {n} hours on hold {when}",
    "Please help {h}, still no internet {when} and nobody calls back",
    "Great job {h}, third engineer no-show this month. Amazing service as always",
    "Love being on hold to {b} for {n} minutes, really the highlight of my day",
]
# The outage: the 28 Nov story. One thread snowballs (below); around it, people all over say the same.
OUTAGE_POSTS = [
    "Is {b} down? Nothing loading in {place}",
    "{b} offline again in {place}, router lights all orange",
    "no internet with {b} {when}. anyone else?",
    "{b} outage in {place}? been off for {n} hours",
    "{h} any update on the outage?? working from home here",
    "{b} down for the whole street in {place}, status page says everything is fine lol",
    "Third outage this month with {b}. Tethering off my phone again",
    "Still no internet. {h} any update at all?",
    "{b} down in {place} too. Kids can't do homework and I can't work",
    "Can {b} at least text us when it's offline? Found out from the neighbours",
]
OUTAGE_REPLIES = [
    "Same here, {b} completely down in Leeds. No internet for 6 hours now",
    "{h} any update?? Working from home and can't do anything",
    "Down for me too. This is the third outage this month with {b}",
    "I want a refund for today, this is ridiculous",
    "No status page update, no texts, nothing. Terrible communication from {b}",
    "Entire street is offline. {b} absolutely useless today",
    "Been on hold for 90 minutes to report it. Awful",
    "Honestly considering switching to {c} after this",
    "My kids can't do homework, {b} please fix this",
    "{h} still waiting for any update, it's been 7 hours",
    "Paying for fibre and getting nothing. Never again {b}",
]
BILLING_THREAD = [
    "{h} you have charged me twice for November and nobody in your chat can fix it. I want my money back",
    "Day 4 of trying to get my double charge refunded by {b}. If it's not back by Friday I'm doing a chargeback",
    "Still nothing from {b}. Switching to {c} and telling everyone why",
]
REDDIT_ANGRY = [
    ("{b} cancelled my contract without notice and still took the money",
     "They cut my line, kept billing me and now say I owe an early termination fee. Is this a small claims thing?"),
]
REDDIT_COMMENTS_ANGRY = [
    "Same happened to my sister with {b}. Took three months and a complaint to the ombudsman",
    "Go to small claims, they settle fast when you do",
    "{b} billing is a scam at this point",
    "File a complaint with the regulator, it's the only thing they listen to",
    "I left {b} for {c} last year after something similar. Never looked back",
    "This is shocking even for {b}",
]
REDDIT_POSTS = [
    ("Is {b} fibre worth it in {place}?", "Looking at {plan}. Anyone local with real evening speeds?"),
    ("{b} vs {c} for gaming", "Ping matters more than raw speed for me. Currently on {c}, {ping}ms to EU servers."),
    ("Happy with {b} so far", "Moved over in September, zero issues, decent price. Install took {n} minutes."),
    ("{b} hub settings: turning off 2.4 GHz?", "How do I split the bands on {kit}? Smart plugs keep dropping."),
    ("{b} price rise, can I leave penalty free?", "Letter says +£{n}/month. Contract started in March."),
    ("Anyone else getting evening slowdowns on {b}?", "Fine all day, then {slow} from 7 till 11 in {place}."),
    ("{b} engineer no-show, what now?", "Took the day off for it. Chat says 'rebook online'. Is there compensation?"),
    ("{c} to {b} switch: keep my number?", "One Touch Switch apparently, but the {c} rep said otherwise."),
    ("PSA: {b} app update fixed the login loop", "If you had the logout bug, update to the latest version."),
    ("{b} mesh pods any good?", "Big old house in {place}, thick walls. Worth it over a third party system?"),
    ("{b} 5G home box review after 3 months", "Mostly {speed}, a bit flaky in heavy rain. Would recommend for flats."),
    ("Best time to call {b} support?", "Lunchtime was a {n} minute wait. Mornings any better?"),
]
REVIEW_GOOD = [
    ("Does what I need", "Easy to check usage and pay bills. No complaints."),
    ("Great update", "The new design is clean and fast. Love the data widget."),
    ("Solid app", "Works well, support chat in the app was helpful."),
    ("Finally usable", "Bill breakdown makes sense now. Took them long enough but it's good."),
    ("Handy", "Speed test and the outage map in one place. Use it weekly."),
    ("Quick fixes", "Reported a fault through the app and an engineer was booked for {day}."),
    ("Better than the website", "Everything is two taps away. Face ID login works every time."),
]
REVIEW_BAD = [
    ("Crashes on login", "App crashes every time I log in since the last update. Useless."),
    ("Can't pay my bill", "Payment page errors out and then I get a late fee. Fix this."),
    ("Worse every update", "Slow, logs me out constantly, chat never loads."),
    ("Outage map is wrong", "Says no issues in {place} while the whole street is offline."),
    ("Chat goes nowhere", "Waited {n} minutes in the in-app chat, then it closed itself."),
]
REVIEW_MID = [
    ("It's ok", "Does the basics. Would like dark mode."),
    ("Fine but basic", "Shows the bill, not much else. Usage graph would be nice."),
]
# How people end a post, by mood (a happy post does not end "ffs").
FLAVOUR = {
    "positive": ["", "", "", " 👍", " cheers", " 🙌", " :)", " tbh", " #broadband"],
    "neutral": ["", "", "", " thanks", " cheers", " #broadband", " 🤔"],
    "negative": ["", "", "", " smh", " ffs", " 🙃", " !!", " #fail", " tbh"],
}


def _fill(rng: random.Random, template: str, fill: dict[str, str]) -> str:
    """A template with its slots filled from a few small vocabularies (varied, never random noise)."""
    values = {
        **fill, "place": rng.choice(PLACES), "when": rng.choice(WHEN), "staff": rng.choice(STAFF),
        "kit": rng.choice(KIT), "plan": rng.choice(PLAN), "n": str(rng.choice([2, 3, 4, 5, 6, 8, 12, 20, 40])),
        "ping": str(rng.randint(8, 34)), "speed": f"{rng.choice([480, 610, 750, 870, 910])} Mbps",
        "slow": f"{rng.choice([3, 8, 11, 17, 25])} Mbps", "ago": rng.choice(["last month", "in the summer",
                                                                             "two weeks ago", "in October"]),
        "day": rng.choice(["Monday", "Wednesday", "Friday", "the next morning"]),
    }
    return template.format(**values)


def _post(rng: random.Random, pool: list[str], fill: dict[str, str]) -> str:
    text = _fill(rng, rng.choice(pool), fill)
    if rng.random() < 0.15:
        text = text[0].lower() + text[1:]
    mood = "positive" if pool is POSITIVE else "neutral" if pool is NEUTRAL else "negative"
    return text + rng.choice(FLAVOUR[mood])


# A realistic crowd: hundreds of different people, so a "repeat detractor" in the demo is one on purpose.
FIRST = ["amy", "dan", "priya", "tom", "lucia", "mo", "jenny", "kwame", "sasha", "ben", "ola", "marta", "raj", "chris",
         "nina", "leo", "hana", "ivan", "zoe", "omar", "fran", "yuki", "sam", "ada"]
HANDLES = [f"{name}{sep}{n}" for name in FIRST for n in range(11, 91, 2) for sep in ("_" if n % 3 else ".",)]


def _x(rng: random.Random, nid: int, text: str, at: datetime, brand: str, **extra: object) -> dict:
    author = extra.pop("author", rng.choice(HANDLES))
    return {
        "source": "x", "id": str(1_860_000_000_000_000_000 + nid), "brand": brand, "text": text,
        "created_at": iso(at), "author": author,
        "followers": extra.pop("followers", rng.choice([40, 120, 310, 800, 1500, 2300, 5200])),
        "url": f"https://x.com/{author}/status/{1_860_000_000_000_000_000 + nid}",
        "engagement": extra.pop("engagement", rng.randint(0, 12)), "lang": "en", **extra,
    }


def generate(out_dir: Path, anchor: datetime) -> dict[str, Path]:
    """Write x.jsonl, reddit.jsonl and reviews.csv under out_dir; returns their paths."""
    rng = random.Random(20261124)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = anchor - timedelta(days=14)
    fill_b = {"b": "Brightwave", "h": "@BrightwaveHelp", "c": "Lumacell"}
    fill_c = {"b": "Lumacell", "h": "@LumacellCare", "c": "Brightwave"}
    x_rows: list[dict] = []
    nid = 0

    def at_random() -> datetime:
        return start + timedelta(minutes=rng.randint(0, 14 * 24 * 60 - 1))

    # Background chatter: own brand and competitor.
    for brand, fill, n in (("Brightwave", fill_b, 170), ("Lumacell", fill_c, 80)):
        for _ in range(n):
            nid += 1
            pool = rng.choices([POSITIVE, NEUTRAL, NEGATIVE, POLITE_COMPLAINTS], weights=[45, 30, 20, 5])[0]
            x_rows.append(_x(rng, nid, _post(rng, pool, fill), at_random(), brand))

    # Angry thread 1: an outage that snowballs within the hour, started by a big account; around it,
    # people all over the country post about it on their own (the spike in the trend files).
    t0 = anchor - timedelta(days=2, hours=5)
    for _ in range(28):
        nid += 1
        x_rows.append(_x(rng, nid, _post(rng, OUTAGE_POSTS, fill_b),
                         t0 + timedelta(minutes=rng.randint(-40, 9 * 60)), "Brightwave",
                         followers=rng.choice([25, 60, 140, 300, 650])))
    nid += 1
    root = _x(rng, nid, "Is @Brightwave down for everyone? Whole house offline since 6am, no word from them",
              t0, "Brightwave", author="techwithjess", followers=48_300, engagement=410, verified=True)
    x_rows.append(root)
    for i, text in enumerate(OUTAGE_REPLIES):
        nid += 1
        x_rows.append(_x(rng, nid, text.format(**fill_b), t0 + timedelta(minutes=3 + 4 * i), "Brightwave",
                         thread_id=root["id"], parent_id=root["id"]))

    # Angry thread 2: double billing, a repeat detractor, a brand reply that did not help.
    t1 = anchor - timedelta(days=6, hours=3)
    nid += 1
    bill_root = _x(rng, nid, BILLING_THREAD[0].format(**fill_b), t1, "Brightwave", author="marcus_h",
                   followers=2_900, engagement=35)
    x_rows.append(bill_root)
    nid += 1
    x_rows.append(_x(rng, nid, "@marcus_h Sorry to hear this Marcus, please DM us your account number and "
                     "we'll take a look.", t1 + timedelta(minutes=50), "Brightwave", author="BrightwaveHelp",
                     followers=61_000, is_brand_account=True, thread_id=bill_root["id"],
                     parent_id=bill_root["id"]))
    for k, text in enumerate(BILLING_THREAD[1:], 1):
        nid += 1
        x_rows.append(_x(rng, nid, text.format(**fill_b), t1 + timedelta(days=k * 1.5), "Brightwave",
                         author="marcus_h", followers=2_900, engagement=20 + 15 * k))

    # Hostile text a real feed can carry: Slack control sequences and HTML must stay inert everywhere.
    nid += 1
    x_rows.append(_x(rng, nid, "<!channel> @Brightwave <script>alert('owned')</script> your outage page is "
                     "broken & so is my line. Refund me", anchor - timedelta(days=1, hours=2), "Brightwave",
                     author="pr1nc3ss_<b>", followers=90))

    x_rows.sort(key=lambda r: r["created_at"])
    x_path = out_dir / "x.jsonl"
    with open(x_path, "w", encoding="utf-8") as fh:
        for row in x_rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.write('{"source": "x", "id": "broken", "text": "this export line was cut off mid-wr\n')

    # Reddit: posts and comments, one angry submission with a pile-on.
    reddit_rows: list[dict] = []
    rid = 0
    for _ in range(2):
        for title, body in REDDIT_POSTS:
            rid += 1
            sub = rng.choice(["Brightwave", "ukbroadband", "HomeNetworking"])
            reddit_rows.append({
                "source": "reddit", "id": f"t3_demo{rid}", "brand": "Brightwave" if "{b}" in title else "Lumacell",
                "title": _fill(rng, title, fill_b), "text": _fill(rng, body, fill_b), "created_at": iso(at_random()),
                "author": rng.choice(HANDLES), "followers": rng.choice([15_000, 220_000, 48_000]),
                "url": f"https://www.reddit.com/r/{sub}/comments/demo{rid}/", "engagement": rng.randint(1, 60),
                "lang": "en",
            })
    t2 = anchor - timedelta(days=4, hours=8)
    rid += 1
    sub_id = f"t3_demo{rid}"
    title, body = REDDIT_ANGRY[0]
    reddit_rows.append({
        "source": "reddit", "id": sub_id, "brand": "Brightwave", "title": title.format(**fill_b),
        "text": body.format(**fill_b), "created_at": iso(t2), "author": "throwaway_bw_victim", "followers": 220_000,
        "url": f"https://www.reddit.com/r/ukbroadband/comments/demo{rid}/", "engagement": 340, "lang": "en",
    })
    for i, text in enumerate(REDDIT_COMMENTS_ANGRY):
        rid += 1
        reddit_rows.append({
            "source": "reddit", "id": f"t1_demo{rid}", "brand": "Brightwave", "text": text.format(**fill_b),
            "created_at": iso(t2 + timedelta(minutes=6 + 7 * i)), "author": rng.choice(HANDLES),
            "followers": 220_000, "thread_id": sub_id, "parent_id": sub_id, "engagement": rng.randint(5, 80),
            "url": f"https://www.reddit.com/r/ukbroadband/comments/demo{rid - i - 1}/_/demo{rid}/", "lang": "en",
        })
    reddit_rows.sort(key=lambda r: r["created_at"])
    reddit_path = out_dir / "reddit.jsonl"
    with open(reddit_path, "w", encoding="utf-8") as fh:
        for row in reddit_rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    # App-store reviews as a CSV export with its own column names (mapped in the demo config).
    reviews_path = out_dir / "reviews.csv"
    with open(reviews_path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["review_id", "app", "rating", "headline", "body", "reviewer", "date", "country"])
        for i in range(48):
            pool, stars = rng.choices(
                [(REVIEW_GOOD, (4, 5)), (REVIEW_BAD, (1, 2)), (REVIEW_MID, (3, 3))], weights=[55, 35, 10])[0]
            head, body = rng.choice(pool)
            writer.writerow([f"as-{4000 + i}", "Brightwave", rng.randint(*stars), head, _fill(rng, body, fill_b),
                             rng.choice(HANDLES), iso(at_random()), rng.choice(["gb", "ie", "us"])])
        writer.writerow(["as-broken", "Brightwave", "5", "No body", "", "ghost", iso(anchor), "gb"])
    return {"x": x_path, "reddit": reddit_path, "reviews": reviews_path}
