"""The tracking script in a real browser, on a page of a customer's site (a small HTTP
server of its own on 127.0.0.1, another site than LeadApp's live server on localhost): the
la_vid cookie, Do Not Track and the consent flag."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leads.models import AnonymousPageView, Visitor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(live_server):
    """The customer's site; ``site.before`` is script run before the tracking snippet."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            html = (
                "<!doctype html><html><head><title>Spring sale</title>"
                f"<script>{server.before}</script>"
                f'<script src="{live_server.url}/static/js/leadapp-track.js" '
                f'data-leadapp="{live_server.url}" async></script></head><body>Shop</body></html>'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    server.before = ""
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def wait_for_views(count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while AnonymousPageView.objects.count() < count:
        assert time.monotonic() < deadline, f"expected {count} page views"
        time.sleep(0.1)


def settle(page) -> None:
    page.wait_for_load_state("networkidle")
    time.sleep(0.5)


def la_vid(page, site):
    return next((c for c in page.context.cookies(site.url) if c["name"] == "la_vid"), None)


def test_page_views_are_sent_with_a_first_party_visitor_cookie(page, site):
    page.goto(f"{site.url}/?utm_source=news")
    wait_for_views(1)
    page.goto(f"{site.url}/pricing")
    wait_for_views(2)

    cookie = la_vid(page, site)
    assert cookie["domain"] == "127.0.0.1"
    assert cookie["sameSite"] == "Lax"
    assert cookie["expires"] - time.time() > 364 * 86400
    visitor = Visitor.objects.get()
    assert visitor.id == cookie["value"]
    views = list(AnonymousPageView.objects.order_by("id"))
    assert [v.properties["url"] for v in views] == [f"{site.url}/?utm_source=news", f"{site.url}/pricing"]
    assert views[0].properties["title"] == "Spring sale"
    assert views[0].properties["utm"] == {"utm_source": "news"}
    assert page.evaluate("leadapp.visitorId()") == visitor.id


def test_do_not_track_sends_nothing_and_sets_no_cookie(page, site):
    page.add_init_script("Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})")

    page.goto(f"{site.url}/")
    settle(page)
    page.evaluate("leadapp.consent(); leadapp.pageView()")
    settle(page)

    assert la_vid(page, site) is None
    assert not Visitor.objects.exists()


def test_consent_pending_waits_for_leadapp_consent(page, site):
    site.before = "window.leadappConsentPending = true;"

    page.goto(f"{site.url}/")
    settle(page)
    page.evaluate("leadapp.pageView()")
    settle(page)
    assert la_vid(page, site) is None
    assert not Visitor.objects.exists()

    page.evaluate("leadapp.consent()")
    wait_for_views(1)
    assert Visitor.objects.get().id == la_vid(page, site)["value"]
