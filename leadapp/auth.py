"""The permissions backend: a user's permissions and role names read in one query per request.

Django's ``ModelBackend`` reads a user's own permissions and their groups' permissions in two
queries, and the role names in the menu (``roles.user_roles``) took a third, on every page.
``RoleBackend`` reads them together and answers the permission checks from them. It is
listed before ``ModelBackend`` and logs nobody in: logins stay with ``ModelBackend``, so the
sessions that name it stay valid. A check that ``RoleBackend`` refuses goes on to
``ModelBackend``, which finds the same permissions cached (``_perm_cache``) and asks the
database nothing. Each request reads them afresh, so a role taken away applies to the
user's next request."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db.models import CharField, Value


class RoleBackend(ModelBackend):
    def authenticate(self, request, **credentials):
        return None  # ModelBackend's, listed after this one (see the module's docstring)

    def get_all_permissions(self, user_obj, obj=None):
        if user_obj.is_superuser:  # every permission, read only when asked (ModelBackend)
            return super().get_all_permissions(user_obj, obj)
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            load_access(user_obj)
        return user_obj._perm_cache


def load_access(user) -> None:
    """Read the names of ``user``'s groups (``_leadapp_groups``) and, but for a superuser, who
    has every permission, their permissions as ``ModelBackend`` caches them (``_perm_cache``,
    "app_label.codename"): their own and their groups', in one query."""
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
    user._leadapp_groups = groups
    if not user.is_superuser:
        user._perm_cache = perms
