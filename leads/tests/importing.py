"""Helpers for the CSV import tests: upload a file and run it as the pages do."""

from django.core.files.uploadedfile import SimpleUploadedFile

from leads import imports
from leads.models import LeadImport


def upload(client, content: str | bytes, *, name: str = "leads.csv"):
    """Upload through the import page; returns the response (a redirect when accepted)."""
    data = content.encode() if isinstance(content, str) else content
    return client.post("/leads/imports/", {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def uploaded(client, content: str | bytes, **kwargs) -> LeadImport:
    response = upload(client, content, **kwargs)
    assert response.status_code == 302, response.content.decode()[:2000]
    return LeadImport.objects.defer("content").latest("pk")


def start(client, lead_import: LeadImport, *, on_existing="update", source="other", **mapping):
    """Post the mapping page: the suggested mapping, with ``mapping`` (header -> target)
    changed. Returns the response."""
    chosen = {**lead_import.mapping, **mapping}
    data = {f"col_{i}": chosen.get(header, "") for i, header in enumerate(lead_import.headers)}
    return client.post(lead_import.get_absolute_url(), {**data, "on_existing": on_existing, "source": source})


def run(client, lead_import: LeadImport, **kwargs) -> LeadImport:
    """Start the import from its page and run it here, as the worker would."""
    response = start(client, lead_import, **kwargs)
    assert response.status_code == 302, response.content.decode()[:3000]
    imports.run_import(lead_import.pk)
    lead_import.refresh_from_db()
    assert lead_import.status == LeadImport.Status.DONE, lead_import.failure
    return lead_import


def import_csv(client, content: str | bytes, **kwargs) -> LeadImport:
    return run(client, uploaded(client, content), **kwargs)
