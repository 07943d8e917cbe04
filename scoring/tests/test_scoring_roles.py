"""Who may do what with scoring (the groups ``leadapp/roles.py`` defines): everyone who works
leads sees scores and the rules behind them; only Marketing (and Admin) tunes the rules."""

import pytest

pytestmark = pytest.mark.django_db

READ = [
    "scoring.view_leadscore",
    "scoring.view_scorechange",
    "scoring.view_ruleset",
    "scoring.view_scoringjob",
]
TUNE = [
    "scoring.change_ruleset",
    "scoring.add_ruleset",
    "scoring.delete_ruleset",
    "scoring.change_fitrule",
    "scoring.add_fitrule",
    "scoring.change_fitgroup",
    "scoring.change_engagementrule",
    "scoring.add_scoringjob",
]


def test_sales_sees_scores_and_rules_but_cannot_change_the_rules(sdr):
    assert all(sdr.has_perm(perm) for perm in READ)
    assert not any(sdr.has_perm(perm) for perm in TUNE)


def test_marketing_tunes_the_rules(marketer):
    assert all(marketer.has_perm(perm) for perm in READ + TUNE)


def test_managers_only_read(manager):
    assert all(manager.has_perm(perm) for perm in READ)
    assert not any(manager.has_perm(perm) for perm in TUNE)


def test_admin_may_do_everything_with_scoring(admin_user):
    assert all(admin_user.has_perm(perm) for perm in READ + TUNE)
    assert admin_user.has_perm("scoring.change_leadscore")


def test_a_user_without_a_role_sees_no_scores(nobody):
    assert not any(nobody.has_perm(perm) for perm in READ + TUNE)


def test_no_role_but_admin_may_edit_scores_by_hand(sdr, marketer, manager):
    """Scores come from the rules only: nobody types one in."""
    for user in (sdr, marketer, manager):
        assert not user.has_perm("scoring.change_leadscore")
        assert not user.has_perm("scoring.change_scorechange")
