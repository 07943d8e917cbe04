"""The authentication backend: Django's ``ModelBackend``, with a user's permissions and role
names read in one query per request.

``ModelBackend`` reads a user's own permissions and their groups' permissions in two queries,
and the role names in the menu (``roles.user_roles``) took a third, on every page. They are
read together here; each request still reads them afresh, so a role taken away applies to
the user's next request."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db.models import CharField, Value


class RoleBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            load_access(user_obj)
        return user_obj._perm_cache


def load_access(user) -> None:
    """Read ``user``'s permissions ("app_label.codename", what ``ModelBackend`` caches as
    ``_perm_cache``: every permission for a superuser) and the names of their groups
    (``_leadapp_groups``), in one query."""
    own = (
        Permission.objects.filter(user=user)
        .order_by()
        .values_list("content_type__app_label", "codename", Value(None, output_field=CharField()))
    )
    grouped = (
        Group.objects.filter(user=user)
        .order_by()
        .values_list("permissions__content_type__app_label", "permissions__codename", "name")
    )
    perms, groups = set(), set()
    for app_label, codename, group in own.union(grouped, all=True):
        if codename is not None:
            perms.add(f"{app_label}.{codename}")
        if group is not None:
            groups.add(group)
    if user.is_superuser:
        perms = {
            f"{app}.{name}"
            for app, name in Permission.objects.values_list("content_type__app_label", "codename")
        }
    user._perm_cache, user._leadapp_groups = perms, groups
