"""One lead per person: the database decides, even for simultaneous creates."""

import threading

import pytest
from django.db import connection

from conftest import requires_postgres
from leads import services
from leads.models import Lead, StageChange


@pytest.mark.django_db
def test_email_is_normalized_so_case_and_blanks_do_not_make_a_second_lead():
    lead, created = services.upsert_lead(email="  Ada@Example.COM ", data={"first_name": "Ada"})
    again, created_again = services.upsert_lead(email="ada@example.com", data={"last_name": "Lovelace"})
    assert created and not created_again
    assert again.pk == lead.pk
    assert Lead.objects.get().email == "ada@example.com"
    assert (again.first_name, again.last_name) == ("Ada", "Lovelace")


@pytest.mark.django_db
def test_upsert_never_overwrites_a_known_value_with_a_blank_and_merges_custom_attributes():
    services.upsert_lead(email="a@b.co", data={"job_title": "CTO"}, custom={"plan": "pro"})
    lead, _ = services.upsert_lead(email="a@b.co", data={"job_title": ""}, custom={"seats": 5})
    lead.refresh_from_db()
    assert lead.job_title == "CTO"
    assert lead.custom == {"plan": "pro", "seats": 5}


@pytest.mark.django_db
def test_create_lead_refuses_a_taken_email_and_names_the_existing_lead():
    first = services.create_lead(email="x@y.com")
    with pytest.raises(services.DuplicateEmail) as exc:
        services.create_lead(email="X@Y.com ")
    assert exc.value.lead == first
    assert Lead.objects.count() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_email_end_with_one_lead():
    workers = 12
    barrier = threading.Barrier(workers)
    outcomes, errors = [], []

    def submit(i: int) -> None:
        try:
            barrier.wait()
            lead, created = services.upsert_lead(email="Race@Example.com", data={"phone": f"+1 555 {i:04}"})
            outcomes.append((lead.pk, created))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Lead.objects.filter(email="race@example.com").count() == 1
    assert len({pk for pk, _ in outcomes}) == 1
    assert sum(created for _, created in outcomes) == 1
    assert StageChange.objects.filter(lead__email="race@example.com").count() == 1
