"""The one settings module. Every value comes from the environment (see .env.example).

Defaults run the embedded set-up right after checkout: SQLite and local files under var/,
the django-q2 ORM broker. Variables switch on PostgreSQL, S3 and Redis.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env(name: str, default: str = "") -> str:
    """A variable, or the contents of the file named by NAME_FILE (for secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: str) -> bool:
    value = env(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def envint(name: str, default: str) -> int:
    value = env(name, default).strip()
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", "false")
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode-0123456789abcdef"
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tables2",
    "django_filters",
    "django_q",
    "smt",
    "ercot",
    "telemetry",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# SQLite under var/ by default; PostgreSQL (production) through DATABASE_URL.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'wattledger.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server and the q2 cluster write at once: wait for the lock instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "America/Chicago"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"

S3_BUCKET = env("S3_BUCKET")
if S3_BUCKET:
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env("S3_ENDPOINT") or None,
            "region_name": env("S3_REGION", "us-east-1"),
            "access_key": env("S3_ACCESS_KEY_ID") or None,
            "secret_key": env("S3_SECRET_ACCESS_KEY") or None,
            "addressing_style": "path" if envbool("S3_FORCE_PATH_STYLE", "false") else "auto",
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
        },
    }
else:
    DEFAULT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and envbool("STATIC_MANIFEST", "true")
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Tokens: empty means that kind of token auth is off.
ADMIN_TOKEN = env("ADMIN_TOKEN")
SMT_UPLOAD_TOKEN = env("SMT_UPLOAD_TOKEN")
SMT_UPLOAD_MAX_BYTES = envint("SMT_UPLOAD_MAX_BYTES", str(512 * 1024 * 1024))
SMT_UPLOADS_PER_DAY = envint("SMT_UPLOADS_PER_DAY", "50")
SMT_INLINE_MAX_BYTES = 4 * 1024 * 1024
# JSON bodies (not file uploads): room for SMT_INLINE_MAX_BYTES as base64 plus the other fields.
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024
# A file not finished this long after it was received is queued again (a worker died).
SMT_STRANDED_AFTER_SECONDS = envint("SMT_STRANDED_AFTER_SECONDS", "900")
# Uploads stream through temporary files here, never through memory.
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR") or None

Q_BROKER = env("Q_BROKER")
Q_CLUSTER = {
    "name": "wattledger",
    "workers": envint("Q_WORKERS", "2"),
    # timeout stays below retry, so a task is retried only after its worker gave up on it.
    "timeout": envint("Q_TIMEOUT", "1800"),
    "retry": envint("Q_RETRY", "1900"),
    "max_attempts": envint("Q_MAX_ATTEMPTS", "3"),
    "poll": 0.5,
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    "sync": envbool("Q_SYNC", "false"),
}
if Q_BROKER:
    Q_CLUSTER["redis"] = Q_BROKER
else:
    Q_CLUSTER["orm"] = "default"

# Production hardening; `manage.py check --deploy` is clean with DEBUG off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "false" if DEBUG else "true")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REDIRECT_EXEMPT = [r"^health$"]
X_FRAME_OPTIONS = "DENY"

DJANGO_TABLES2_TEMPLATE = "table_htmx.html"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
# Uploads up to this size are parsed whole before they are accepted (a file with no valid row is refused).
SMT_PRECHECK_FULL_BYTES = envint("SMT_PRECHECK_FULL_BYTES", str(2 * 1024 * 1024))
SMT_CUSTOMER_UPLOADS_PER_MONTH = envint("SMT_CUSTOMER_UPLOADS_PER_MONTH", "5")

# Performance (bench/, docs/PERFORMANCE.md). The usage summary page caches its rendered days per
# ESIID range in the process cache; the key moves with every normalize and deletion. 0 = off.
SMT_USAGE_CACHE_SECONDS = envint("SMT_USAGE_CACHE_SECONDS", "300")
