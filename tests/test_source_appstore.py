"""App Store reviews: the customer-reviews JSON feed on 127.0.0.1, read through the real collect stage."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from listener.errors import SourceError
from listener.models import utcnow
from listener.sources.appstore import AppStoreSource
from listener.store import Store
from tests.fakes_web.appstore import Review, app_entry, entry, page, path
from tests.fakes_web.workspace import make_config, mentions, quarantined, run_once

APP = "1234567890"


def _config(tmp_path, httpserver, **extra):
    section = {"base_url": httpserver.url_for("/").rstrip("/"), "retry_backoff_seconds": 0,
               "apps": [{"id": APP, "brand": "Brightwave", "countries": ["us", "jp"]}], **extra}
    return make_config(tmp_path, {"appstore": section})


def _ago(hours: float):
    return utcnow() - timedelta(hours=hours)


def test_reviews_from_two_pages_and_two_countries_are_stored_with_stars_and_buckets(tmp_path, httpserver):
    us1 = [entry(Review("9001", 1, "Crashes on launch", "Since 5.2 the Brightwave app crashes every time.",
                        _ago(1), votes=4)),
           entry(Review("9002", 5, "Love it", "Works great", _ago(2)))]
    us2 = [entry(Review("9003", 4, "Good", "Mostly fine, battery drain though", _ago(30))),
           entry(Review("8000", 2, "Old", "From last month", _ago(24 * 40)))]  # older than the first-run window
    httpserver.expect_request(path(APP, "us", 1)).respond_with_json(page(APP, "us", 1, us1))
    httpserver.expect_request(path(APP, "us", 2)).respond_with_json(page(APP, "us", 2, us2))
    # jp: a single review comes as an object, not a list; Japanese text is kept as is
    jp = entry(Review("9100", 3, "同期できない", "アプリが同期しません。サポートに連絡しても返事がない。", _ago(3),
                      version="5.2.0"))
    httpserver.expect_request(path(APP, "jp", 1)).respond_with_json(page(APP, "jp", 1, jp))
    httpserver.expect_request(path(APP, "jp", 2)).respond_with_json(page(APP, "jp", 2, None))
    config = _config(tmp_path, httpserver)
    with Store(config.db_path) as store:
        result, errors = run_once(config, "appstore", store)
        rows = {r["native_id"]: r for r in mentions(store, "appstore")}
    assert errors == []
    assert sorted(rows) == ["9001", "9002", "9003", "9100"]  # 8000 is before the window
    crash = rows["9001"]
    assert (crash["stars"], crash["title"], crash["brand"]) == (1, "Crashes on launch", "Brightwave")
    assert json.loads(crash["metrics"]) == {"version": "5.2.1", "country": "us", "app_id": APP,
                                            "nps_bucket": "detractor"}
    assert crash["engagement"] == 4 and crash["thread_key"] == "appstore:9001"
    assert json.loads(crash["raw"])["im:rating"] == {"label": "1"}
    assert json.loads(rows["9002"]["metrics"])["nps_bucket"] == "promoter"
    assert json.loads(rows["9003"]["metrics"])["nps_bucket"] == "passive"
    japanese = rows["9100"]
    assert japanese["text"] == "アプリが同期しません。サポートに連絡しても返事がない。"
    assert json.loads(japanese["metrics"])["country"] == "jp" and japanese["stars"] == 3
    assert result.new == 4


def test_a_rerun_stores_nothing_twice_and_picks_up_only_the_new_review(tmp_path, httpserver):
    old = [entry(Review("9001", 1, "Bad", "Login broken", _ago(5)))]
    httpserver.expect_ordered_request(path(APP, "us", 1)).respond_with_json(page(APP, "us", 1, old))
    httpserver.expect_ordered_request(path(APP, "us", 2)).respond_with_json(page(APP, "us", 2, []))
    httpserver.expect_ordered_request(path(APP, "us", 1)).respond_with_json(page(APP, "us", 1, old))
    httpserver.expect_ordered_request(path(APP, "us", 2)).respond_with_json(page(APP, "us", 2, []))
    newer = [entry(Review("9002", 2, "Still bad", "Login still broken", _ago(1)))] + old
    httpserver.expect_ordered_request(path(APP, "us", 1)).respond_with_json(page(APP, "us", 1, newer))
    httpserver.expect_ordered_request(path(APP, "us", 2)).respond_with_json(page(APP, "us", 2, []))
    config = _config(tmp_path, httpserver, apps=[{"id": APP, "brand": "Brightwave"}])
    with Store(config.db_path) as store:
        first, _ = run_once(config, "appstore", store)
        second, _ = run_once(config, "appstore", store)
        third, _ = run_once(config, "appstore", store)
        count = store.scalar("SELECT COUNT(*) FROM mentions")
        cursor = json.loads(store.get_cursor("appstore", f"{APP}/us"))
    assert (first.new, second.new, second.fetched, third.new) == (1, 0, 0, 1)
    assert count == 2
    assert cursor["ids"] == ["9002"]


def test_malformed_reviews_are_quarantined_and_the_rest_stored(tmp_path, httpserver):
    good = entry(Review("9001", 1, "Bad", "Brightwave charged me twice", _ago(1)))
    no_stars = entry(Review("9002", "five", "Hm", "what", _ago(2)))
    empty = entry(Review("9003", 2, "Empty", "   ", _ago(3)))
    bad_time = entry(Review("9004", 2, "When", "no date", "yesterday-ish"))
    httpserver.expect_request(path(APP, "us", 1)).respond_with_json(
        page(APP, "us", 1, [good, no_stars, empty, bad_time, "not a review"]))
    httpserver.expect_request(path(APP, "us", 2)).respond_with_json(page(APP, "us", 2, []))
    config = _config(tmp_path, httpserver, apps=[{"id": APP, "brand": "Brightwave"}])
    with Store(config.db_path) as store:
        result, errors = run_once(config, "appstore", store)
        rows = mentions(store, "appstore")
        bad = quarantined(store, "appstore")
    assert errors == [] and [r["native_id"] for r in rows] == ["9001"]
    reasons = [b["reason"] for b in bad]
    assert reasons == ["im:rating 'five' is not a number", "content is empty", "updated 'yesterday-ish' is not a time",
                       "review is str, not an object"]
    assert bad[0]["location"].endswith("page=1/id=1234567890/sortby=mostrecent/json entry 9002")
    assert result.quarantined == 4


@pytest.mark.parametrize("status,check", [
    (403, lambda e: e.auth and "HTTP 403" in str(e)),
    (429, lambda e: e.retry_after == 120 and "rate limited" in str(e)),
    (404, lambda e: "not found" in str(e) and not e.auth),
])
def test_refusals_raise_a_source_error_the_scheduler_can_act_on(tmp_path, httpserver, status, check):
    httpserver.expect_request(path(APP, "us", 1)).respond_with_data(
        "nope", status=status, headers={"Retry-After": "120"})
    config = _config(tmp_path, httpserver, apps=[{"id": APP, "brand": "Brightwave"}])
    source = AppStoreSource(config.sources["appstore"], config)
    with pytest.raises(SourceError) as info:
        list(source.collect(source.queries()[0], None))
    assert check(info.value)


def test_server_errors_are_retried_a_bounded_number_of_times(tmp_path, httpserver):
    for _ in range(2):
        httpserver.expect_ordered_request(path(APP, "us", 1)).respond_with_data("busy", status=503)
    reviews = [entry(Review("9001", 1, "Bad", "Broken", _ago(1)))]
    httpserver.expect_ordered_request(path(APP, "us", 1)).respond_with_json(page(APP, "us", 1, reviews))
    httpserver.expect_ordered_request(path(APP, "us", 2)).respond_with_json(page(APP, "us", 2, []))
    config = _config(tmp_path, httpserver, apps=[{"id": APP, "brand": "Brightwave"}], retries=2)
    with Store(config.db_path) as store:
        result, errors = run_once(config, "appstore", store)
    assert errors == [] and result.new == 1


def test_a_server_that_keeps_failing_records_an_error_and_keeps_the_cursor(tmp_path, httpserver):
    httpserver.expect_request(path(APP, "us", 1)).respond_with_data("down", status=500)
    config = _config(tmp_path, httpserver, apps=[{"id": APP, "brand": "Brightwave"}], retries=1)
    with Store(config.db_path) as store:
        store.conn.execute("INSERT INTO cursors VALUES ('appstore', ?, '{\"newest\": null, \"ids\": []}', 'x')",
                           [f"{APP}/us"])
        result, errors = run_once(config, "appstore", store)
        run = store.query("SELECT * FROM runs")[0]
        cursor = store.get_cursor("appstore", f"{APP}/us")
    assert result.new == 0
    assert errors == [f"appstore {APP}/us: App Store app {APP} (us) page 1: server error HTTP 500 (2 attempts)"]
    assert run["errors"] == 1 and cursor == '{"newest": null, "ids": []}'
    assert len(httpserver.log) == 2


def test_a_body_that_is_not_json_is_a_clear_error(tmp_path, httpserver):
    httpserver.expect_request(path(APP, "us", 1)).respond_with_data("<html>maintenance</html>",
                                                                     content_type="text/html")
    config = _config(tmp_path, httpserver, apps=[{"id": APP, "brand": "Brightwave"}])
    with Store(config.db_path) as store:
        _, errors = run_once(config, "appstore", store)
    assert errors == [(f"appstore {APP}/us: App Store app {APP} (us) page 1: the answer is not JSON "
                      "(starts '<html>maintenance</html>')")]


def test_an_app_for_an_unknown_brand_is_a_config_error(tmp_path, httpserver):
    from listener.errors import ConfigError

    config = _config(tmp_path, httpserver, apps=[{"id": APP, "brand": "Nobody"}])
    with pytest.raises(ConfigError, match=r"sources.appstore.apps\[0\].brand: 'Nobody' is not a name"):
        AppStoreSource(config.sources["appstore"], config)


def test_doctor_check_names_the_app_and_country_that_fails(tmp_path, httpserver):
    httpserver.expect_request(path(APP, "us", 1)).respond_with_json(page(APP, "us", 1, []))
    httpserver.expect_request(path(APP, "jp", 1)).respond_with_data("gone", status=404)
    config = _config(tmp_path, httpserver)
    problems = AppStoreSource(config.sources["appstore"], config).check()
    assert problems == [f"App Store app {APP} (jp) page 1: not found (HTTP 404); check the id or URL in the config "
                        "(gone)"]


def test_the_older_feed_shape_without_entry_dates_is_stored_dated_by_the_feed(tmp_path, httpserver):
    """Older storefront feeds open page 1 with the app and give reviews no `updated`: every review is
    kept (not quarantined), dated by the feed's `updated`, and a rerun stops at the newest one stored."""
    built = (utcnow() - timedelta(minutes=20)).replace(microsecond=0)
    reviews = [Review(str(9_400 - i), 1 + i % 5, f"Review {i}", f"Brightwave app review number {i}", "")
               for i in range(4)]
    page1 = [app_entry(APP), *(entry(r, dated=False) for r in reviews[:2])]
    page2 = [entry(r, dated=False) for r in reviews[2:]]
    httpserver.expect_request(path(APP, "us", 1)).respond_with_json(page(APP, "us", 1, page1, updated=built))
    httpserver.expect_request(path(APP, "us", 2)).respond_with_json(page(APP, "us", 2, page2, updated=built))
    httpserver.expect_request(path(APP, "us", 3)).respond_with_json(page(APP, "us", 3, None, updated=built))
    config = _config(tmp_path, httpserver, apps=[{"id": APP, "brand": "Brightwave", "countries": ["us"]}])
    with Store(config.db_path) as store:
        result, errors = run_once(config, "appstore", store)
        rows = mentions(store, "appstore")
        bad = quarantined(store, "appstore")
        assert errors == [] and bad == [] and result.new == 4
        assert sorted(r["native_id"] for r in rows) == ["9397", "9398", "9399", "9400"]
        assert {r["created_at"] for r in rows} == {built.strftime("%Y-%m-%dT%H:%M:%SZ")}
        assert all(json.loads(r["metrics"])["dated_by"] == "feed" for r in rows)

        # A new review arrives on top; the rerun reads page 1 only and stores just that one.
        httpserver.clear()
        newer = Review("9401", 2, "Logged out again", "Brightwave keeps logging me out", "")
        page1 = [app_entry(APP), entry(newer, dated=False), *(entry(r, dated=False) for r in reviews[:1])]
        httpserver.expect_request(path(APP, "us", 1)).respond_with_json(
            page(APP, "us", 1, page1, updated=utcnow()))
        again, errors = run_once(config, "appstore", store)
        assert errors == [] and (again.fetched, again.new) == (1, 1)
        assert len(httpserver.log) == 1
