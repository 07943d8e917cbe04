"""Production profile: ``DJANGO_SETTINGS_MODULE=leadapp.settings.production``.

Everything secret or site-specific must come from the environment; ``manage.py check
--deploy`` reports nothing for this profile.
"""

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")  # no default: refuse to start without a real key
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# Campaign e-mails link back here: no default, or e-mails would point at localhost.
LEADAPP_BASE_URL = env.str("BASE_URL")

# Rate limits and throttles must be shared by every web process: a cache server, no default.
CACHES = {"default": env.cache("CACHE_URL")}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
WHITENOISE_USE_FINDERS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
