"""The four roles are Django groups; this module is the one place that says what each may do.

``sync_roles`` runs after every ``migrate`` so that a new permission reaches its roles
without a hand-written data migration.
"""

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

from .auth import load_access

MARKETING = "Marketing"
SALES = "Sales"
MANAGER = "Manager"
ADMIN = "Admin"
ROLES = (MARKETING, SALES, MANAGER, ADMIN)

_READ_LEADS = ["leads.view_lead", "leads.view_activity", "leads.view_stagechange"]
_WORK_LEADS = [*_READ_LEADS, "leads.add_lead", "leads.change_lead", "leads.add_activity"]

_EXPORT_LEADS = ["leads.export_lead"]
# Managers override the lifecycle rules (recorded as forced); see leads/lifecycle.py.
_FORCE_STAGE = ["leads.force_stage"]
_IMPORT_LEADS = ["leads.view_leadimport", "leads.add_leadimport"]
_VIEW_FORMS = ["leads.view_captureform", "leads.view_submission"]
_BUILD_FORMS = [*_VIEW_FORMS, "leads.add_captureform", "leads.change_captureform", "leads.delete_captureform"]

# Everyone who works leads reads scores and the rules behind them; only Marketing edits rules.
_READ_SCORES = [
    "scoring.view_leadscore",
    "scoring.view_scorechange",
    "scoring.view_ruleset",
    "scoring.view_scoringjob",
    "scoring.view_predictivemodel",
]
# The predictive model (scoring/predictive.py): Marketing and Managers train it and choose what
# it may learn from; only a Manager activates a version that scored worse than the active one.
_TRAIN_MODEL = ["scoring.train_predictive_model", "scoring.change_predictivesettings"]
_FORCE_MODEL = ["scoring.force_predictive_model"]
_TUNE_SCORING = [
    *_READ_SCORES,
    *(
        f"scoring.{action}_{model}"
        for model in ("ruleset", "fitgroup", "fitrule", "engagementrule")
        for action in ("add", "change", "delete")
    ),
    "scoring.add_scoringjob",
]

# Marketing builds and runs campaigns; Sales and Managers see them, their outbox and reports.
_READ_NURTURING = [
    "nurturing.view_campaign",
    "nurturing.view_emailtemplate",
    "nurturing.view_enrollment",
    "nurturing.view_message",
    "nurturing.view_suppression",
    "leads.view_savedsegment",
]
_RUN_NURTURING = [
    *_READ_NURTURING,
    *(
        f"nurturing.{action}_{model}"
        for model in ("campaign", "step", "emailtemplate", "enrollment", "suppression")
        for action in ("add", "change", "delete")
    ),
    *(f"leads.{action}_savedsegment" for action in ("add", "change", "delete")),
]

# Handoff (leads/handoff.py). An SDR without ``view_all_leads`` sees their own leads and the
# unowned ones (the pool), not a colleague's; works the queue (claim, accept, reject, log
# touches). A manager sees everyone's, reassigns, and keeps the teams and routing rules.
_SEE_ALL_LEADS = ["leads.view_all_leads"]
_WORK_QUEUE = ["leads.view_handoff", "leads.change_handoff", "leads.view_reminder", "leads.change_reminder"]
_RUN_SALES = [
    "leads.view_handoff",
    "leads.assign_handoff",
    "leads.view_slabreach",
    *(
        f"leads.{action}_{model}"
        for model in ("team", "routingrule")
        for action in ("view", "add", "change", "delete")
    ),
]

# Reports (leads/reports.py): everyone who works leads reads them; Marketing keeps the costs.
_READ_REPORTS = ["leads.view_reports", "leads.view_marketingcost"]
_KEEP_COSTS = [*_READ_REPORTS, *(f"leads.{action}_marketingcost" for action in ("add", "change", "delete"))]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING: [
        *_WORK_LEADS,
        *_SEE_ALL_LEADS,
        *_IMPORT_LEADS,
        *_EXPORT_LEADS,
        *_BUILD_FORMS,
        *_TUNE_SCORING,
        *_TRAIN_MODEL,
        *_RUN_NURTURING,
        *_KEEP_COSTS,
    ],
    SALES: [*_WORK_LEADS, *_WORK_QUEUE, *_VIEW_FORMS, *_READ_SCORES, *_READ_NURTURING, *_READ_REPORTS],
    MANAGER: [
        *_READ_LEADS,
        *_SEE_ALL_LEADS,
        *_RUN_SALES,
        *_FORCE_STAGE,
        *_EXPORT_LEADS,
        *_VIEW_FORMS,
        *_READ_SCORES,
        *_TRAIN_MODEL,
        *_FORCE_MODEL,
        *_READ_NURTURING,
        *_READ_REPORTS,
    ],
}
# Admin gets every permission of these apps (users, tokens, schedules and all of LeadApp).
ADMIN_APPS = ["auth", "authtoken", "django_celery_beat", "leadapp", "leads", "scoring", "nurturing"]


def _permissions(names: list[str]) -> list[Permission]:
    perms = []
    for name in names:
        app_label, codename = name.split(".")
        perms.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return perms


def sync_roles(**kwargs) -> None:
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_permissions(names))
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    admin.permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    if not hasattr(user, "_leadapp_groups"):  # read with the permissions, once a request
        load_access(user)
    return user._leadapp_groups | ({ADMIN} if user.is_superuser else set())


def roles_context(request) -> dict:
    return {"user_roles": user_roles(request.user)}
