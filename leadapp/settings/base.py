"""Settings shared by every profile, read from the environment.

With no environment at all LeadApp runs on its embedded defaults: SQLite in ``var/``,
Celery over kombu's filesystem transport in ``var/celery/``, and e-mail written to
``var/mail/``. ``production.py`` tightens these for a real deployment.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
VAR_DIR = Path(env.str("LEADAPP_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me-in-production-0123456789")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_filters",
    "django_htmx",
    "template_partials",
    "django_countries",
    "django_celery_beat",
    "corsheaders",
    "anymail",
    "leadapp",
    "leads",
    "scoring",
    "nurturing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "leadapp.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "leadapp.urls"
WSGI_APPLICATION = "leadapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "leadapp.roles.roles_context",
                "leadapp.webhook_views.webhooks_context",
                "leadapp.notification_views.notifications_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# DATABASE_URL=postgres://user:pass@host:5432/name for production; SQLite file by default.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'leadapp.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker share the file: WAL lets readers run beside a
    # writer, IMMEDIATE transactions make writers queue instead of failing with "locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # lead_created_idx carries the search text (INCLUDE) for PostgreSQL's index-only walk;
    # SQLite builds the index without it, which is all the warning says.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------
# A user's permissions and roles in one query (leadapp/auth.py); logins stay with ModelBackend.
AUTHENTICATION_BACKENDS = ["leadapp.auth.RoleBackend", "django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- I18N / time ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (vendored, served by WhiteNoise; nothing from a CDN) ---------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None  # set by production.py for collectstatic
WHITENOISE_USE_FINDERS = True  # serve straight from static/ when nothing was collected


MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# --- Public endpoints (forms, tracking) -------------------------------------------------
# Forms and the tracking script are embedded on the customer's own sites: these paths (and
# only these) answer cross-origin requests. They carry no cookies of LeadApp's.
CORS_URLS_REGEX = r"^/(f|t)/.*$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
# Per client IP; shared across processes only when CACHE_URL points at Redis.
LEADAPP_FORM_RATE = env.str("LEADAPP_FORM_RATE", default="20/m")
LEADAPP_TRACKING_RATE = env.str("LEADAPP_TRACKING_RATE", default="600/m")
LEADAPP_FORM_MIN_FILL_SECONDS = env.int("LEADAPP_FORM_MIN_FILL_SECONDS", default=3)
RATELIMIT_USE_CACHE = "default"
# Behind a proxy, set to the header that carries the client IP (e.g. HTTP_X_FORWARDED_FOR).
LEADAPP_CLIENT_IP_HEADER = env.str("LEADAPP_CLIENT_IP_HEADER", default="REMOTE_ADDR")
# The currency a new opportunity is in unless the SDR picks another (ISO 4217 code).
LEADAPP_CURRENCY = env.str("LEADAPP_CURRENCY", default="EUR")
# Handoff SLAs count business hours: these days (0 = Monday) and hours, in TIME_ZONE, minus
# the holidays (ISO dates). A lead no routing rule takes gets the default SLA.
LEADAPP_BUSINESS_DAYS = env.list("LEADAPP_BUSINESS_DAYS", cast=int, default=[0, 1, 2, 3, 4])
LEADAPP_BUSINESS_HOURS = env.str("LEADAPP_BUSINESS_HOURS", default="09:00-17:00")
LEADAPP_HOLIDAYS = env.list("LEADAPP_HOLIDAYS", default=[])
LEADAPP_POOL_ACCEPT_WITHIN = env.int("LEADAPP_POOL_ACCEPT_WITHIN", default=4)
LEADAPP_POOL_TOUCH_WITHIN = env.int("LEADAPP_POOL_TOUCH_WITHIN", default=8)


# --- E-mail ---------------------------------------------------------------------------
# EMAIL_URL: smtp://user:pass@host:587 (STARTTLS with ?tls=1), smtps://... (implicit TLS),
# console:// or file:///path. Default: one file per message in var/mail.
def _email_settings(url: str) -> dict:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme == "file":
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": unquote(parts.path),
        }
    if parts.scheme in ("smtp", "smtps"):
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": parts.hostname or "localhost",
            "EMAIL_PORT": parts.port or (465 if parts.scheme == "smtps" else 25),
            "EMAIL_HOST_USER": unquote(parts.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_SSL": parts.scheme == "smtps",
            "EMAIL_USE_TLS": query.get("tls", ["0"])[0].lower() in ("1", "true", "yes"),
        }
    raise ImproperlyConfigured(f"EMAIL_URL: unsupported scheme {parts.scheme!r}")


globals().update(_email_settings(env.str("EMAIL_URL", default=f"file://{VAR_DIR / 'mail'}")))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="LeadApp <leadapp@localhost>")
# Where LeadApp is reached from the outside: e-mails link back to it (tracking, unsubscribe).
LEADAPP_BASE_URL = env.str("BASE_URL", default="http://127.0.0.1:8000")
# Campaign e-mails sent per minute at most, over all workers (0: no limit). Counted in the
# cache, so CACHE_URL must point at Redis for the limit to hold across processes.
NURTURING_RATE_PER_MINUTE = env.int("NURTURING_RATE_PER_MINUTE", default=0)
# Opens, clicks and preference pages per client IP (django-ratelimit's rate syntax). Generous:
# the image proxies of the big mailbox providers load pixels from a few shared addresses.
NURTURING_LINK_RATE = env.str("NURTURING_LINK_RATE", default="3000/m")
# SMTP connect/read timeout, seconds: a stalled server cannot hold a worker indefinitely.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
# Anymail's tracking webhooks (bounces, complaints) check this basic-auth "user:password".
ANYMAIL = {"WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default="")}

# --- Celery ---------------------------------------------------------------------------
# CELERY_BROKER_URL=redis://host:6379/0 (or amqp://...) for production. The embedded
# default is kombu's filesystem transport: a real broker without a server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue = VAR_DIR / "celery" / "queue"
    _queue.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
# Seconds a webhook receiver has to answer before the attempt counts as failed.
LEADAPP_WEBHOOK_TIMEOUT = env.float("LEADAPP_WEBHOOK_TIMEOUT", default=10.0)
# Connections a rescore job uses at once on PostgreSQL (one lead range each).
LEADAPP_SCORING_THREADS = env.int("LEADAPP_SCORING_THREADS", default=2)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "leadapp.record_heartbeat", "schedule": 60.0},
    "process-pending-submissions": {"task": "leads.process_pending_submissions", "schedule": 60.0},
    "follow-up-pending": {"task": "leads.follow_up_pending", "schedule": 60.0},
    "requeue-stale-imports": {"task": "leads.requeue_stale_imports", "schedule": 60.0},
    "requeue-stale-scoring-jobs": {"task": "scoring.requeue_stale_jobs", "schedule": 60.0},
    # Campaigns: enroll the leads their triggers match, run the steps that are due, and
    # hand again to a worker the e-mails whose worker died or whose task the broker lost.
    "nurturing-enroll": {"task": "nurturing.enroll_triggered", "schedule": 60.0},
    "nurturing-dispatch": {"task": "nurturing.dispatch", "schedule": 15.0},
    "nurturing-sweep": {"task": "nurturing.sweep_outbox", "schedule": 60.0},
    # Webhooks: retries that are due (1, 2, 4 … minutes) and deliveries a dead worker left.
    "webhooks-sweep": {"task": "leadapp.sweep_webhooks", "schedule": 60.0},
    # Handoff: SLA deadlines that passed (record, tell the manager, reassign), reminders due,
    # and notification e-mails a dead worker or a lost task left unsent.
    "handoff-sla": {"task": "leads.check_slas", "schedule": 60.0},
    "notifications-sweep": {"task": "leadapp.send_notification_emails", "schedule": 60.0},
    # Reports: the funnel rows of the leads changed lately, and all of them at night.
    "reports-refresh-funnel": {"task": "leads.refresh_funnel", "schedule": 300.0},
    "reports-rebuild-funnel": {"task": "leads.rebuild_funnel", "schedule": crontab(hour=2, minute=30)},
    # Decay and windows move every score a little each day: rescore everyone at night.
    "refresh-scores": {"task": "scoring.refresh_scores", "schedule": crontab(hour=3, minute=15)},
    # The predictive model learns the week's outcomes on Sunday night (a new version replaces
    # the active one only if it is not worse); a training whose worker died starts again.
    "predictive-retrain": {
        "task": "scoring.retrain_predictive_model",
        "schedule": crontab(day_of_week="sun", hour=4, minute=0),
    },
    "predictive-requeue": {"task": "scoring.requeue_stale_trainings", "schedule": 300.0},
}

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["leadapp.permissions.RoleModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "leadapp.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"user": env.str("API_THROTTLE_USER", default="6000/min")},
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LeadApp API",
    "DESCRIPTION": "Leads, activities (events) and, later, scores. Every error has the same shape: "
    '`{"error": {"status", "code", "detail", "fields"}}`.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Cache (rate limits, throttles) ---------------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- Logging --------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- LeadApp --------------------------------------------------------------------------
LEADAPP_EVENT_BATCH_MAX = 1000
# A batch of events touching more leads than this is followed up (last activity time,
# scores, campaigns) by a worker within seconds instead of in the request: see
# leads.services.ingest_events.
LEADAPP_INGEST_INLINE_LEADS = env.int("LEADAPP_INGEST_INLINE_LEADS", default=50)
LEADAPP_EVENT_CLOCK_SKEW = timedelta(minutes=5)
