"""In a real browser: a marketer uploads a CSV, checks the suggested mapping, starts the
import and watches the page follow it (htmx polling) until the bad rows are listed."""

import pytest

from conftest import log_in
from leads import imports
from leads.models import Lead, LeadImport

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FILE = (
    "E-mail;First Name;Company;Plan\n"
    "ada@example.com;Ada;Engines;pro\n"
    "nope;Bob;;\n"
    "grace@example.com;Grace;Navy;\n"
)


def test_a_marketer_imports_a_file_and_sees_the_result(page, marketer, tmp_path, monkeypatch):
    queued = []
    monkeypatch.setattr("leads.tasks.run_import.delay", queued.append)  # the test runs it instead
    path = tmp_path / "fair.csv"
    path.write_text(FILE, encoding="utf-8-sig")

    log_in(page, "marketer")
    page.get_by_role("link", name="Imports").click()
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()

    page.get_by_role("heading", name="fair.csv").wait_for()
    assert page.get_by_label("E-mail", exact=True).input_value() == "email"
    assert page.get_by_label("Plan").input_value() == "custom:plan"
    assert "Engines" in page.locator("#import-preview").inner_text()
    page.get_by_label("Company", exact=True).select_option("")  # ignore this column
    page.get_by_role("button", name="Start import").click()

    page.get_by_text("Import started.").wait_for()
    assert queued == [LeadImport.objects.get().pk]
    imports.run_import(queued[0])  # as the worker would; the page polls and shows it
    page.locator("#import-errors").wait_for()
    assert page.locator('[data-count="created"]').inner_text() == "2"
    assert "E-mail: 'nope' is not a valid address." in page.locator("#import-errors").inner_text()
    assert Lead.objects.get(email="ada@example.com").company_name == ""
    assert Lead.objects.get(email="ada@example.com").custom == {"plan": "pro"}
    page.screenshot(path=str(tmp_path / "done.png"), full_page=True)
