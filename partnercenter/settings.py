"""Settings for partnercenter, read from the environment (and `.env` when present)."""

import re
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# A development key is tolerated only with DEBUG on, so a production server never signs
# sessions and tokens with a key that is public in this repository.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it in the environment or in .env "
            "(or set DJANGO_DEBUG=1 for local development)."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "django_htmx",
    "template_partials",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_tasks",
    # Before django_tasks_db: its `db_worker` command, extended, is the one manage.py runs.
    "notifications",
    "django_tasks_db",
    "partnercenter",
    "events",
    "relationships",
    "customers",
    # Above the domain: they compose customers and relationships.
    "dashboard",
    "demo",
    "api",
]

MIDDLEWARE = [
    # First: the request's id is set before anything logs, and answered on every response.
    "partnercenter.tracing.RequestIdMiddleware",
    # Then: under /v1/ it drops cookies before the session and CSRF middleware read them.
    "api.middleware.ApiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "partnercenter.middleware.PrivatePagesMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "partnercenter.i18n.UserLanguageMiddleware",
    "partnercenter.time_zones.TimeZoneMiddleware",
    "partnercenter.signin.SessionIdleTimeoutMiddleware",
    "partnercenter.two_step.TwoStepMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Each view's statements planned for each run, or once (the API's by-key calls).
    "partnercenter.plans.StatementPlansMiddleware",
    # Last: it turns a refused (locked-out) sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "partnercenter.root_urls"
WSGI_APPLICATION = "partnercenter.wsgi.application"

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
                "django.template.context_processors.i18n",
                "partnercenter.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has no row locks: every transaction takes the write lock when it begins, so two
    # writers never interleave their reads and writes (the eligibility invariant needs that).
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=0)
# A persistent connection is tried before a request uses it, so one the database dropped (a
# restart, a failover) is replaced instead of failing the request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DJANGO_CONN_HEALTH_CHECKS", default=True)
# What the PostgreSQL server is told for each connection (libpq's `options`).
_server_settings = []
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DJANGO_DB_PREPARED_STATEMENTS", default=False
):
    # Parameters bound by the server, and a statement run 5 times on a connection prepared, so
    # PostgreSQL parses it once per connection, not on every call. Worth it with persistent
    # connections; not behind a pooler in transaction mode, which cannot keep a connection's
    # prepared statements. Each run is still planned for its own values: left to choose, after
    # 5 runs PostgreSQL kept one plan for any value, and History filtered by a rare contact
    # went from 60 ms to 2-3 s (a plan that walks the million changes by date). Views that
    # only find rows by key keep their plans (partnercenter/plans.py).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=5
    )
    _server_settings.append("-c plan_cache_mode=force_custom_plan")
# A statement running longer is cancelled (and its transaction's locks released): a runaway
# query fails alone instead of holding a worker and the rows it locked. 0: no limit. Work that
# is long by nature lifts it for itself (partnercenter/statement_timeout.py): `migrate`, and
# `seed_demo`'s big worlds.
DB_STATEMENT_TIMEOUT_MS = env.int("DJANGO_DB_STATEMENT_TIMEOUT_MS", default=5000)
if DB_STATEMENT_TIMEOUT_MS < 0:
    raise ImproperlyConfigured("DJANGO_DB_STATEMENT_TIMEOUT_MS is milliseconds, 0 for no limit.")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_STATEMENT_TIMEOUT_MS:
    _server_settings.append(f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}")
if _server_settings:
    # After any `options` DATABASE_URL already gives (`?options=...`).
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = " ".join(filter(None, [_options.get("options", ""), *_server_settings]))

# The cache: shared by every server (process) that serves the site, so that what one caches
# another sees and clears, e.g. DJANGO_CACHE_URL=redis://127.0.0.1:6379/1 (Django's own Redis
# backend). Unset, each process keeps its own in memory: right for one server only.
CACHES = {"default": env.cache_url("DJANGO_CACHE_URL", default="locmemcache://")}

# Calls per API token (counted in the cache above), as ninja's throttles read a rate.
API_RATE_LIMIT = env.str("DJANGO_API_RATE_LIMIT", default="600/min")
if not re.fullmatch(r"[1-9][0-9]*/(s|sec|m|min|h|hour|d|day)", API_RATE_LIMIT):
    raise ImproperlyConfigured("DJANGO_API_RATE_LIMIT reads like 600/min (per s, min, hour, day).")

# Background work (a bulk change of more than a thousand subscriptions) goes through Django's
# tasks framework (the django-tasks backport) and its database backend: the queue is a table of
# the same database, so it needs no other server, and `python manage.py db_worker` runs it (any
# number of workers, on any number of hosts).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "partnercenter.User"
LOGIN_URL = "partnercenter:login"
LOGIN_REDIRECT_URL = "partnercenter:home"
LOGOUT_REDIRECT_URL = "partnercenter:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username or address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# A set-password link (for new users) stays valid for 3 days.
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3

# Sessions end after 8 hours without a request (SessionIdleTimeoutMiddleware renews them).
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_IDLE_SECONDS", default=8 * 60 * 60)
SESSION_RENEW_AFTER_SECONDS = 5 * 60

# Sign-in throttling (django-axes, attempts kept in the database): a username, and separately
# an address, that fails this often is locked for a while; the page says so.
AXES_FAILURE_LIMIT = env.int("DJANGO_SIGNIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("DJANGO_SIGNIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "partnercenter.signin.locked_out"
AXES_CLIENT_IP_CALLABLE = "partnercenter.signin.client_ip"
AXES_VERBOSE = False
# The client's address behind reverse proxies (partnercenter.signin.client_ip). Trusted proxies
# (addresses or networks): X-Forwarded-For is read only on a request that comes from one of
# them, and the client is the nearest address in it that is not one of them. Without them,
# DJANGO_PROXY_COUNT=N reads the Nth address from the right of X-Forwarded-For from anyone:
# only for servers that nothing but those proxies can reach.
SIGNIN_TRUSTED_PROXIES = env.list("DJANGO_TRUSTED_PROXIES", default=[])
for _proxy in SIGNIN_TRUSTED_PROXIES:
    try:
        ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"DJANGO_TRUSTED_PROXIES: {_proxy!r} is not an IP address or network."
        ) from None
SIGNIN_PROXY_COUNT = env.int("DJANGO_PROXY_COUNT", default=0)

# Two-step verification (django-otp): the issuer shown in authenticator apps.
OTP_TOTP_ISSUER = env.str("DJANGO_TWO_STEP_ISSUER", default="partnercenter")
TWO_STEP_RECOVERY_CODES = 10

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("de", _("German")),
    ("nl", _("Dutch")),
    ("hu", _("Hungarian")),
    ("ru", _("Russian")),
    ("zh-hant", _("Traditional Chinese")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Tests run with DEBUG off but without collectstatic: let WhiteNoise find files where they live.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

EMAIL_BACKEND = env.str(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="partnercenter@localhost")
# SMTP in production (DJANGO_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and the
# DJANGO_EMAIL_* below), or files: DJANGO_EMAIL_FILE_PATH alone selects the file backend.
EMAIL_FILE_PATH = env.str("DJANGO_EMAIL_FILE_PATH", default="")
if EMAIL_FILE_PATH and "DJANGO_EMAIL_BACKEND" not in env.ENVIRON:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("DJANGO_EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("DJANGO_EMAIL_TIMEOUT", default=10)

# Links in emails point here.
SITE_URL = env.str("DJANGO_SITE_URL", default="http://127.0.0.1:8000")
# Webhooks to private, loopback and link-local addresses, and over plain http: development and
# tests only (notifications/destinations.py).
WEBHOOKS_ALLOW_PRIVATE = env.bool("DJANGO_WEBHOOKS_ALLOW_PRIVATE", default=DEBUG)

# Security headers. HTTPS-only settings switch on with DJANGO_SECURE=1 behind TLS.
SECURE = env.bool("DJANGO_SECURE", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
# Health probes often come over plain HTTP, straight to the server: they get the answer, not a
# redirect a probe would count as healthy (partnercenter/health_views.py).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# A strict Content Security Policy: no inline script or style, nothing from elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

# One line per request and per committed change, each with the request's id and the signed-in
# user (partnercenter/tracing.py): JSON lines for a log collector in production, readable lines
# in development.
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="") or ("text" if DEBUG else "json")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured("DJANGO_LOG_FORMAT is text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "partnercenter.tracing.RequestContextFilter"},
        "unavailable_database_once": {"()": "partnercenter.error_views.UnavailableDatabaseOnce"},
    },
    "formatters": {
        "text": {
            "format": "{asctime} {levelname} {name} [{request_id} {user}] {message}",
            "style": "{",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "{levelname}{name}{request_id}{user}{message}",
            "style": "{",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
        },
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_context"],
            "formatter": LOG_FORMAT,
        },
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own lines go to the console handler above, through the root, like every
        # other (its default configuration gives it a second handler of its own in DEBUG).
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"filters": ["unavailable_database_once"]},
        # django-axes logs every sign-in at INFO; its warnings (lockouts) are what matter.
        "axes": {"level": env.str("DJANGO_AXES_LOG_LEVEL", default="WARNING")},
        # The development server's request log says what partnercenter.requests says with the
        # request's id; of its own lines, only its warnings (errors) are kept.
        "django.server": {"handlers": ["django.server"], "level": "WARNING", "propagate": False},
    },
}
