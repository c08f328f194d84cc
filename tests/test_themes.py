"""Built-in themes on texts that read like real posts: each theme catches its complaints and leaves
alone the near misses that share a word with it (the app theme once took "any update??" during an
outage, and a spike alert blamed the app)."""

from __future__ import annotations

import pytest

from sentiment.themes import DEFAULT_THEMES, build_themes

MATCHER = build_themes()

CASES: dict[str, tuple[list[str], list[str]]] = {
    "billing": (
        ["You charged me twice for November and nobody can fix it",
         "Still waiting on my refund, it's been three weeks",
         "My bill went up again with no warning",
         "Direct debit taken on the wrong date AGAIN"],
        ["Phone is fully charged and still no signal lol",
         "Bill Gates would have fixed this by now",
         "Working two jobs to pay the bills and my router is the least of it"],
    ),
    "outage": (
        ["Is @Brightwave down for everyone? Whole house offline since 6am",
         "Internet still down in Leeds, 6 hours now",
         "No internet again, third outage this month",
         "Status page says everything is fine, it is not"],
        ["Calm down everyone, it's back online now",
         "The shop down the road sells their SIMs",
         "Really let down by the new contract terms",
         "Offline mode in the app is handy on the train"],
    ),
    "delivery": (
        ["My parcel with the new router never arrived",
         "Courier left the hub on the doorstep in the rain",
         "Tracking number doesn't work and delivery was due Tuesday"],
        ["They never deliver on their promises about speed",
         "The speeds delivered on its promise for once"],
    ),
    "app": (
        ["App crashes every time I log in since the last update",
         "The new update logs me out constantly",
         "Password reset link on the website is broken",
         "Glitchy app, the usage page is frozen"],
        ["@BrightwaveHelp any update?? Working from home and can't do anything",
         "Still waiting for an update on the outage, it's been 7 hours",
         "No status update, no texts, nothing",
         "Please keep us updated on the repair"],
    ),
    "customer service": (
        ["Been on hold for 90 minutes to report it",
         "Live chat agent just disconnected me",
         "Customer service hung up on me twice",
         "Made a formal complaint, no reply after 10 days"],
        ["The estate agent says the flat has fibre",
         "Booked a travel agent for the trip, any roaming tips?"],
    ),
    "price": (
        ["Another price hike in April, that's a rip off",
         "Too expensive for what you get, Lumacell is cheaper",
         "Exit fee of £180 to leave, seriously?"],
        ["Avoid their call centre at all costs",
         "Price is right for the first year, we'll see"],
    ),
}


def test_every_built_in_theme_is_tested() -> None:
    assert set(CASES) == set(DEFAULT_THEMES)


@pytest.mark.parametrize("theme", sorted(CASES))
def test_theme_finds_its_posts(theme: str) -> None:
    positives, _ = CASES[theme]
    for text in positives:
        assert theme in MATCHER.themes(text), text


@pytest.mark.parametrize("theme", sorted(CASES))
def test_theme_leaves_near_misses_alone(theme: str) -> None:
    _, negatives = CASES[theme]
    for text in negatives:
        assert theme not in MATCHER.themes(text), text


def test_a_team_can_add_contexts_that_cancel_a_phrase() -> None:
    own = build_themes({"speed": ["fast", "-fast food"]}, defaults=False)
    assert own.themes("Speeds are fast tonight") == ("speed",)
    assert own.themes("Grabbed fast food while the engineer worked") == ()


def test_context_cancels_only_the_phrases_it_overlaps() -> None:
    # "any update" is not the app, but the app crashing in the same post still is
    assert MATCHER.themes("Any update? The app crashes when I open it") == ("app",)
