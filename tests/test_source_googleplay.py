"""Google Play reviews: google-play-scraper, in its worker process, against a fake Play on 127.0.0.1.

Also proves the TLS trap is contained: importing google-play-scraper switches certificate checks off for
its whole process; overheard's process never imports it, and the worker switches them back on.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from listener.errors import SourceError
from listener.models import utcnow
from listener.sources.googleplay import GooglePlaySource
from listener.store import Store
from tests.fakes_web.googleplay import PlayFake, PlayReview
from tests.fakes_web.workspace import make_config, mentions, quarantined, run_once

APP = "com.brightwave.app"
PATH = "/_/PlayStoreUi/data/batchexecute"


def _ago(hours: float) -> datetime:
    return utcnow().replace(microsecond=0) - timedelta(hours=hours)


def _config(tmp_path, base_url, **extra):
    section = {"base_url": base_url, "retry_backoff_seconds": 0, "gateway_retry_delay_seconds": 0,
               "apps": [{"id": APP, "brand": "Brightwave", "countries": ["us"]}], **extra}
    return make_config(tmp_path, {"googleplay": section})


def _serve(httpserver, reviews):
    fake = PlayFake({APP: reviews})
    httpserver.expect_request(PATH, method="POST").respond_with_handler(fake)
    return fake


def test_reviews_over_pages_with_stars_buckets_versions_and_developer_replies(tmp_path, httpserver):
    an_hour_ago = _ago(1)
    fake = _serve(httpserver, [
        PlayReview("gp:AOq1", 1, "App crashes since the update, Brightwave please fix", an_hour_ago, thumbs=31,
                   reply="Sorry! 5.2.2 fixes the crash.", replied=_ago(0.5)),
        PlayReview("gp:AOq2", 4, "Gut, aber der Akku leidet.", _ago(2), user="Jonas", version="5.2.0"),
        PlayReview("gp:AOq3", 5, "Perfect", _ago(3)),
        PlayReview("gp:AOq4", 2, "Too slow", _ago(4), version=None),
        PlayReview("gp:OLD", 1, "last month", _ago(24 * 40)),
    ])
    config = _config(tmp_path, httpserver.url_for("/").rstrip("/"), page_size=2,
                     apps=[{"id": APP, "brand": "Brightwave", "countries": ["us"], "lang": "de"}])
    with Store(config.db_path) as store:
        result, errors = run_once(config, "googleplay", store)
        rows = {r["native_id"]: r for r in mentions(store, "googleplay")}
    assert errors == []
    assert sorted(rows) == ["gp:AOq1", "gp:AOq1/reply", "gp:AOq2", "gp:AOq3", "gp:AOq4"]
    crash = rows["gp:AOq1"]
    assert (crash["stars"], crash["engagement"], crash["author"]) == (1, 31, "Jordan K")
    assert json.loads(crash["metrics"]) == {"version": "5.2.1", "country": "us", "app_id": APP,
                                            "nps_bucket": "detractor"}
    assert crash["created_at"] == _iso(an_hour_ago)  # UTC, from the raw seconds, not a naive local time
    reply = rows["gp:AOq1/reply"]
    assert (reply["is_brand_account"], reply["thread_key"], reply["stars"]) == (1, "googleplay:gp:AOq1", None)
    german = rows["gp:AOq2"]
    assert german["text"] == "Gut, aber der Akku leidet." and german["source_lang"] == "de"
    assert json.loads(german["metrics"])["nps_bucket"] == "passive"
    assert json.loads(rows["gp:AOq3"]["metrics"])["nps_bucket"] == "promoter"
    assert json.loads(crash["raw"])[0] == "gp:AOq1"
    # three pages of two, asked newest first (sort 2) with the continuation token; stops at the old review
    assert [(r["token"], r["sort"], r["hl"], r["gl"]) for r in fake.requests] == [
        (None, 2, "de", "us"), ("tok-2", 2, "de", "us"), ("tok-4", 2, "de", "us")]
    assert result.new == 5


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_rerun_stores_nothing_twice_and_picks_up_a_later_developer_answer(tmp_path, httpserver):
    reviews = [PlayReview("gp:A", 2, "Login loop", _ago(2))]
    _serve(httpserver, reviews)
    config = _config(tmp_path, httpserver.url_for("/").rstrip("/"))
    with Store(config.db_path) as store:
        first, _ = run_once(config, "googleplay", store)
        again, _ = run_once(config, "googleplay", store)
        reviews.insert(0, PlayReview("gp:B", 5, "Fixed now", _ago(1)))
        reviews[1].reply, reviews[1].replied = "Please update to 5.2.2", _ago(0.5)
        third, _ = run_once(config, "googleplay", store)
        ids = [r["native_id"] for r in mentions(store, "googleplay")]
    assert (first.new, again.fetched, third.new) == (1, 0, 2)
    assert sorted(ids) == ["gp:A", "gp:A/reply", "gp:B"]


def test_malformed_reviews_are_quarantined(tmp_path, httpserver):
    _serve(httpserver, [
        PlayReview("gp:A", 3, "ok-ish", _ago(1)),
        PlayReview("gp:B", 9, "nine stars?", _ago(2)),
        PlayReview("gp:C", 2, None, _ago(3)),
        PlayReview("gp:D", 2, "when?", "yesterday"),
        ["short"],
    ])
    config = _config(tmp_path, httpserver.url_for("/").rstrip("/"))
    with Store(config.db_path) as store:
        result, errors = run_once(config, "googleplay", store)
        bad = [(q["location"], q["reason"]) for q in quarantined(store, "googleplay")]
    assert errors == [] and result.new == 1
    assert bad == [
        (f"{APP}/us page 1 review gp:B", "score 9 is not between 1 and 5"),
        (f"{APP}/us page 1 review gp:C", "content is missing"),
        (f"{APP}/us page 1 review gp:D", "review time 'yesterday' is not [seconds, nanos]"),
        (f"{APP}/us page 1 review short", "review is not the list Google Play sends"),
    ]


@pytest.mark.parametrize("status,check", [
    (429, lambda e: e.retry_after == 45 and "rate limited" in str(e)),
    (403, lambda e: e.auth),
    (404, lambda e: "app not found" in str(e)),
    (503, lambda e: "server error HTTP 503 (2 attempts)" in str(e)),
])
def test_errors_surface_instead_of_looking_like_no_reviews(tmp_path, httpserver, status, check):
    fake = _serve(httpserver, [PlayReview("gp:A", 2, "x", _ago(1))])
    fake.fail_next = [(status, "error", {"Retry-After": "45"})] * 2
    config = _config(tmp_path, httpserver.url_for("/").rstrip("/"), retries=1)
    source = GooglePlaySource(config.sources["googleplay"], config)
    with pytest.raises(SourceError) as info:
        list(source.collect(source.queries()[0], None))
    assert check(info.value)


def test_a_server_error_then_success_is_retried(tmp_path, httpserver):
    fake = _serve(httpserver, [PlayReview("gp:A", 2, "Brightwave slow", _ago(1))])
    fake.fail_next = [(500, "oops", {})]
    config = _config(tmp_path, httpserver.url_for("/").rstrip("/"), retries=1)
    with Store(config.db_path) as store:
        result, errors = run_once(config, "googleplay", store)
    assert errors == [] and result.new == 1


def test_a_body_that_is_not_review_data_is_a_clear_error(tmp_path, httpserver):
    fake = _serve(httpserver, [])
    fake.fail_next = [(200, "<html>Sorry, unusual traffic</html>", {})]
    config = _config(tmp_path, httpserver.url_for("/").rstrip("/"), retries=0)
    with Store(config.db_path) as store:
        _, errors = run_once(config, "googleplay", store)
    assert errors == [(f"googleplay {APP}/us: Google Play {APP} (us): the answer is not the review data Play "
                      "sends (IndexError)")]


# ---------------------------------------------------------------- the TLS trap
def test_collecting_never_weakens_tls_in_our_process(tmp_path, httpserver):
    _serve(httpserver, [PlayReview("gp:A", 2, "x", _ago(1))])
    before = ssl._create_default_https_context
    config = _config(tmp_path, httpserver.url_for("/").rstrip("/"))
    with Store(config.db_path) as store:
        run_once(config, "googleplay", store)
    assert ssl._create_default_https_context is before is ssl.create_default_context
    assert "google_play_scraper" not in sys.modules


@pytest.fixture
def self_signed_https(tmp_path):
    """An HTTPS server on 127.0.0.1 with a certificate nobody trusts."""
    pytest.importorskip("cryptography")
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b")]}'\n\n[]")

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_library_alone_would_accept_an_untrusted_certificate(self_signed_https):
    """The trap is real: a process that imports google-play-scraper talks to a server it cannot verify."""
    code = ("import google_play_scraper, urllib.request, sys; "
            f"print(urllib.request.urlopen('{self_signed_https}/x', timeout=5).status)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == "200"


def test_the_worker_checks_certificates_again(tmp_path, self_signed_https):
    config = _config(tmp_path, self_signed_https, retries=0)
    source = GooglePlaySource(config.sources["googleplay"], config)
    with pytest.raises(SourceError, match="CERTIFICATE_VERIFY_FAILED"):
        list(source.collect(source.queries()[0], None))


def test_doctor_check_reports_an_unknown_app(tmp_path, httpserver):
    fake = _serve(httpserver, [])
    fake.fail_next = [(404, "not found", {})]
    config = _config(tmp_path, httpserver.url_for("/").rstrip("/"), retries=0)
    source = GooglePlaySource(config.sources["googleplay"], config)
    assert source.check() == [f"Google Play {APP} (us): app not found (HTTP 404); check the package name"]
    assert source.check() == []  # the next answer is an (empty) page of reviews
