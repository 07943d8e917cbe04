from functools import wraps

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import DjangoModelPermissions


class RoleModelPermissions(DjangoModelPermissions):
    """DRF's model permissions, plus the view permission for reads (DRF lets any
    authenticated user read by default; LeadApp's roles decide)."""

    perms_map = {**DjangoModelPermissions.perms_map}
    perms_map["GET"] = ["%(app_label)s.view_%(model_name)s"]
    perms_map["HEAD"] = ["%(app_label)s.view_%(model_name)s"]
    perms_map["OPTIONS"] = []


def permission_required(*perms: str):
    """For page views: 403 for a logged-in user without the permission. Anonymous users
    never get here: ``LoginRequiredMiddleware`` sends them to the login page first."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
