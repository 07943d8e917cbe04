"""/nurturing/audiences/: a saved segment as a retargeting audience for ad platforms'
customer match: one column, ``email``, of SHA-256 hashes of the normalized addresses of the
segment's leads that consented to marketing and are not suppressed."""

import csv
import hashlib
import io
import re
from html import unescape

import pytest

from leads.models import Lead, SavedSegment, Stage
from leads.tests.factories import LeadFactory
from nurturing import tracking
from nurturing.models import Suppression

pytestmark = pytest.mark.django_db


def sha256(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


@pytest.fixture
def segment() -> SavedSegment:
    LeadFactory(email="  Alice@Example.COM ", stage=Stage.MQL, marketing_consent=True)
    LeadFactory(email="bob@example.com", stage=Stage.MQL, marketing_consent=True)
    LeadFactory(email="no-consent@example.com", stage=Stage.MQL, marketing_consent=False)
    LeadFactory(email="bounced@example.com", stage=Stage.MQL, marketing_consent=True)
    LeadFactory(email="unsubscribed@example.com", stage=Stage.MQL, marketing_consent=True)
    LeadFactory(email="other-stage@example.com", stage=Stage.NEW, marketing_consent=True)
    tracking.suppress("bounced@example.com", Suppression.Reason.BOUNCED)
    Suppression.objects.create(email="unsubscribed@example.com", reason=Suppression.Reason.UNSUBSCRIBED)
    return SavedSegment.objects.create(name="MQLs in Europe", query="stage=mql")


def download(client, segment: SavedSegment) -> list[list[str]]:
    response = client.get(f"/nurturing/audiences/{segment.pk}.csv")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audience-mqls-in-europe-')
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_file_holds_the_hashes_of_consenting_unsuppressed_leads_of_the_segment(
    page_as, marketer, segment
):
    rows = download(page_as(marketer), segment)

    assert rows[0] == ["email"]
    assert sorted(row[0] for row in rows[1:]) == sorted(
        [sha256("alice@example.com"), sha256("bob@example.com")]
    )
    assert all(len(row) == 1 for row in rows)


def test_the_hash_is_of_the_trimmed_lower_cased_address(page_as, manager, segment):
    Lead.objects.filter(email="bob@example.com").update(email=" Bob@Example.com")  # as an old import left it

    rows = download(page_as(manager), segment)

    assert sha256("bob@example.com") in [row[0] for row in rows]
    assert hashlib.sha256(b" Bob@Example.com").hexdigest() not in [row[0] for row in rows]


def test_the_page_says_who_is_included_and_why(page_as, marketer, segment):
    response = page_as(marketer).get(f"/nurturing/audiences/?segment={segment.pk}")

    assert response.status_code == 200
    page = response.content.decode()
    assert "gave marketing consent" in page
    assert "not on the" in page and "suppression list" in page
    assert "SHA-256" in page
    assert "2 of 5 leads in the segment go into the file" in page
    assert f'href="/nurturing/audiences/{segment.pk}.csv"' in page


def test_the_page_lists_the_saved_segments(page_as, marketer, segment):
    page = page_as(marketer).get("/nurturing/audiences/").content.decode()

    assert f'<option value="{segment.pk}"' in page
    assert "MQLs in Europe" in page


def test_sales_may_not_export_audiences(page_as, sdr, segment):
    client = page_as(sdr)
    assert client.get("/nurturing/audiences/").status_code == 403
    assert client.get(f"/nurturing/audiences/{segment.pk}.csv").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, segment):
    response = client.get(f"/nurturing/audiences/{segment.pk}.csv")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.fixture
def broken(make_user) -> SavedSegment:
    """``owner=alice``, and alice was deactivated since: the filter is no longer valid."""
    alice = make_user("alice")
    LeadFactory(email="alices@example.com", owner=alice, marketing_consent=True)
    LeadFactory(email="someone-elses@example.com", marketing_consent=True)
    segment = SavedSegment.objects.create(name="Alice's leads", query="owner=alice")
    alice.is_active = False
    alice.save()
    return segment


def test_a_broken_segment_is_not_exported(page_as, marketer, broken):
    response = page_as(marketer).get(f"/nurturing/audiences/{broken.pk}.csv")

    assert response.status_code == 409
    assert not response.streaming
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Content-Disposition" not in response
    assert response.content.decode() == (
        "The audience of “Alice's leads” cannot be exported. Its filters are no longer valid, so it "
        "matches no lead. Owner “alice”: Select a valid choice. That choice is not one of the available "
        "choices."
    )


def test_the_page_refuses_a_broken_segment_and_says_why(page_as, marketer, broken):
    response = page_as(marketer).get(f"/nurturing/audiences/?segment={broken.pk}")

    assert response.status_code == 200
    page = unescape(response.content.decode())
    refused = re.search(r'<p class="error" role="alert" data-testid="audience-refused">([^<]*)</p>', page)
    assert refused, "the page does not refuse the segment"
    assert refused.group(1).startswith(
        "The audience of “Alice's leads” cannot be exported. Its filters are no longer valid"
    )
    assert "Owner “alice”: Select a valid choice." in refused.group(1)
    assert f"/nurturing/audiences/{broken.pk}.csv" not in page
    assert "go into the file" not in page
