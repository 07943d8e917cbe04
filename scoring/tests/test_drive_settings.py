"""What drives the grade — the fit points, the predictive score, or a blend of both — is a setting
of the rule set: the marketer sets it in the draft's settings (with the blend's weight and the
chances from which a lead is grade A, B and C), and the scoring page says what the published
version's grades come from."""

import pytest

from scoring import services
from scoring.models import Drive, RuleSet
from scoring.tests.factories import fit_group, fit_rule, published_rule_set
from scoring.tests.scoring_page import HTMX, error_beside, settings_data, start_draft

pytestmark = pytest.mark.django_db

SETTINGS = "/scoring/draft/settings/"


@pytest.fixture
def editor(page_as, marketer):
    return page_as(marketer)


@pytest.fixture
def draft(editor):
    return start_draft(editor)


def test_the_settings_offer_what_drives_the_grade(editor, draft):
    html = editor.get("/scoring/draft/").content.decode()

    assert "What the grade comes from" in html
    assert '<option value="blend">A blend of both</option>' in html
    for name in ("drive", "blend_weight", "chance_grade_a", "chance_grade_b", "chance_grade_c"):
        assert f'name="settings-{name}"' in html
    assert "70 means 70 % predictive score and 30 % points" in html


def test_a_blend_weighted_70_percent_towards_the_predictive_score_is_saved(editor, draft):
    response = editor.post(SETTINGS, settings_data(draft, drive="blend", blend_weight=70), **HTMX)

    assert response.status_code == 200
    assert "Settings saved." in response.content.decode()
    draft.refresh_from_db()
    assert (draft.drive, draft.blend_weight) == (Drive.BLEND, 70)
    assert services.published_rule_set().drive == Drive.POINTS  # published: unchanged


def test_without_htmx_the_drive_is_saved_too(editor, draft):
    response = editor.post(
        SETTINGS,
        settings_data(draft, drive="predictive", chance_grade_a=60, chance_grade_b=40, chance_grade_c=20),
    )

    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.drive, draft.chance_grade_a, draft.chance_grade_b, draft.chance_grade_c) == (
        Drive.PREDICTIVE,
        60,
        40,
        20,
    )


def test_chances_out_of_order_are_refused_beside_grade_b(editor, draft):
    response = editor.post(
        SETTINGS,
        settings_data(draft, drive="predictive", chance_grade_a=30, chance_grade_b=40, chance_grade_c=20),
        **HTMX,
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert (
        error_beside(html, "id_settings-chance_grade_b")
        == "Grade chances must fall from A to C (A &gt; B &gt; C)."
    )
    assert "Settings saved." not in html
    draft.refresh_from_db()
    assert (draft.drive, draft.chance_grade_a) == (Drive.POINTS, 50)


def test_a_weight_over_100_percent_is_refused(editor, draft):
    response = editor.post(SETTINGS, settings_data(draft, drive="blend", blend_weight=120), **HTMX)

    assert response.status_code == 400
    assert "less than or equal to 100" in error_beside(response.content.decode(), "id_settings-blend_weight")
    draft.refresh_from_db()
    assert draft.drive == Drive.POINTS


@pytest.mark.parametrize(
    ("rule_settings", "shown"),
    [
        ({}, "Points (the fit grade thresholds above)"),
        ({"drive": "predictive"}, "Predictive score (A from 50 %, B from 30 %, C from 15 %)"),
        (
            {
                "drive": "blend",
                "blend_weight": 70,
                "chance_grade_a": 60,
                "chance_grade_b": 35,
                "chance_grade_c": 10,
            },
            "A blend of both: the predictive score counts 70 %, the fit points (as a share of grade A's) "
            "the rest (A from 60 %, B from 35 %, C from 10 %)",
        ),
    ],
)
def test_the_published_summary_says_what_the_grades_come_from(page_as, sdr, rule_settings, shown):
    title = fit_group("Title", [fit_rule("job_title", "contains", "director", 20)])
    published_rule_set(fit=[title], **rule_settings)

    html = page_as(sdr).get("/scoring/").content.decode()

    assert f'<dt>Grades come from</dt><dd data-testid="drive">{shown}</dd>' in html


def test_a_version_page_says_what_its_grades_came_from(page_as, manager):
    old = published_rule_set(drive="predictive")
    published_rule_set()
    assert RuleSet.objects.get(pk=old.pk).status == RuleSet.Status.ARCHIVED

    html = page_as(manager).get(f"/scoring/versions/{old.pk}/").content.decode()

    assert "Predictive score (A from 50 %" in html
