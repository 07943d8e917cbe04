"""What the form builder changes: capture forms, their fields, order and status.

Every form has exactly one e-mail field mapped to the lead's ``email``: it is added when the
form is created and cannot be removed, re-mapped or made optional (a submission is only worth
storing when it names a person).
"""

from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify

from .models import CaptureForm, FieldKind, FormField

EMAIL_COLUMN = "email"

# The lead columns a field may fill (everything else goes to ``Lead.custom``).
LEAD_COLUMNS = [
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("phone", "Phone"),
    ("job_title", "Job title"),
    ("company_name", "Company"),
    ("company_size", "Company size"),
    ("industry", "Industry"),
    ("country", "Country"),
    ("website", "Website"),
]
COLUMN_LABELS = dict(LEAD_COLUMNS)
# Kinds whose single text value can go into a lead column.
COLUMN_KINDS = {FieldKind.TEXT, FieldKind.PHONE, FieldKind.SELECT, FieldKind.HIDDEN}

# Names a field may not take: the submission carries these beside the fields.
RESERVED_NAMES = {
    "consent",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
}
RESERVED_PREFIX = "la_"


class ProtectedField(Exception):
    """The form's e-mail field cannot be removed."""


class CannotPublish(Exception):
    pass


def email_field(form: CaptureForm) -> FormField | None:
    return form.fields.filter(maps_to=EMAIL_COLUMN).first()


def unique_slug(name: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(name)[:70] or "form"
    slug, n = base, 1
    taken = CaptureForm.objects.exclude(pk=exclude_pk)
    while taken.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def field_name_for(label: str) -> str:
    """A submission key made from a label: ``Company size`` -> ``company_size``."""
    name = slugify(label).replace("-", "_")[:60].strip("_") or "field"
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIX):
        name = f"field_{name}"[:60]
    return name


def create_form(*, name: str, slug: str = "", by=None) -> CaptureForm:
    """A new draft form with its required e-mail field."""
    with transaction.atomic():
        form = CaptureForm.objects.create(
            name=name, slug=slug or unique_slug(name), title=name, created_by=by
        )
        FormField.objects.create(
            form=form,
            position=0,
            kind=FieldKind.EMAIL,
            name="email",
            label="E-mail",
            required=True,
            maps_to=EMAIL_COLUMN,
        )
    return form


def add_field(form: CaptureForm, field: FormField) -> FormField:
    """Append a (validated, unsaved) field at the end of the form."""
    with transaction.atomic():
        CaptureForm.objects.select_for_update().get(pk=form.pk)
        last = form.fields.aggregate(last=Max("position"))["last"]
        field.form = form
        field.position = 0 if last is None else last + 1
        field.save()
        _touch(form)
    return field


def save_field(field: FormField) -> FormField:
    with transaction.atomic():
        field.save()
        _touch(field.form)
    return field


def remove_field(field: FormField) -> None:
    if field.maps_to == EMAIL_COLUMN:
        raise ProtectedField("The e-mail field identifies the lead and cannot be removed.")
    with transaction.atomic():
        field.delete()
        _touch(field.form)


def move_field(field: FormField, *, up: bool) -> None:
    """Swap the field with its neighbour above (``up``) or below; at the end, nothing."""
    form = field.form
    with transaction.atomic():
        CaptureForm.objects.select_for_update().get(pk=form.pk)
        fields = list(form.fields.order_by("position", "id"))
        index = next(i for i, f in enumerate(fields) if f.pk == field.pk)
        other = index - 1 if up else index + 1
        if not 0 <= other < len(fields):
            return
        fields[index], fields[other] = fields[other], fields[index]
        for position, f in enumerate(fields):
            f.position = position
        FormField.objects.bulk_update(fields, ["position"])
        _touch(form)


def set_status(form: CaptureForm, status: str) -> CaptureForm:
    if status == CaptureForm.Status.LIVE and email_field(form) is None:
        raise CannotPublish("The form needs its e-mail field to go live.")
    form.status = status
    form.save(update_fields=["status", "updated_at"])
    return form


def _touch(form: CaptureForm) -> None:
    # The list is ordered by last change: editing a field changes the form.
    form.save(update_fields=["updated_at"])
