"""The one settings module. Every value comes from the environment (see .env.example).

Defaults run the embedded set-up right after checkout: SQLite and local files under var/,
the django-q2 ORM broker. Variables switch on PostgreSQL, S3 and Redis.

One section per app, each headed `# ==== <name> ====` (core, storage, SMT, ERCOT, telemetry,
ops, workers): a new setting goes in its app's section, read once with the helpers below.
Over 350 lines because it is the only settings module (docs/ARCHITECTURE.md), by design.
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


# ==================== Core: Django, database, security, sign-in, logging =========================
DEBUG = envbool("DEBUG", "false")
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode-0123456789abcdef"
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "config.apps.ReadOnlyAdminConfig",  # django.contrib.admin, every model view-only
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
    # django-ninja serves its Swagger UI from these static files instead of a CDN when installed.
    "ninja",
    "smt",
    "ercot",
    "telemetry",
    "ops",
]

MIDDLEWARE = [
    "ops.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Refuses NUL, out-of-window dates and absurd page numbers in any query string (docs/SECURITY.md).
    "config.query.QueryGuardMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After HtmxMiddleware (it reads request.htmx): a sign-in redirect becomes HX-Redirect.
    "config.htmx.HtmxLoginRedirectMiddleware",
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
    # SQLite builds smt_interval_esiid_ts_cov without its INCLUDE columns and says so (models.W040)
    # on every start. The INCLUDE is a PostgreSQL-only optimisation (index-only scans); the index
    # still works here, so the warning only made newcomers think something was broken.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
# Optional streaming replica: GET pages and API reads go there (config/replica.py says when not).
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL")
DATABASE_REPLICA_MAX_LAG_SECONDS = envint("DATABASE_REPLICA_MAX_LAG_SECONDS", "30")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=60)
    # A replica that is down must be skipped in moments, not after the OS connect timeout.
    DATABASES["replica"]["OPTIONS"] = {"connect_timeout": 2}
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["config.replica.ReplicaRouter"]
    MIDDLEWARE.insert(0, "config.replica.ReplicaMiddleware")
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

DJANGO_TABLES2_TEMPLATE = "table_htmx.html"

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

# Tokens: empty means that kind of token auth is off (the source apps' own tokens sit with them).
ADMIN_TOKEN = env("ADMIN_TOKEN")

# Sign-in lockout (config/throttle.py): counts in a database table every gunicorn worker shares;
# `manage.py createcachetable` creates it (the test runner does so itself).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "login-throttle": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "wattledger_login_throttle",
    },
}
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", "5")
LOGIN_ADDRESS_FAILURE_LIMIT = envint("LOGIN_ADDRESS_FAILURE_LIMIT", "20")
LOGIN_LOCKOUT_SECONDS = envint("LOGIN_LOCKOUT_SECONDS", "900")
# Behind the deploy nginx the client address is the last X-Forwarded-For entry; off when
# gunicorn faces clients directly (then the header is the client's own word).
LOGIN_TRUST_FORWARDED_FOR = envbool("LOGIN_TRUST_FORWARDED_FOR", "false" if DEBUG else "true")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # runserver logs each request line, query string included: ?token= is scrubbed. Its logger
    # (django.server) keeps Django's own format but goes through the filter too.
    "filters": {"scrub_secrets": {"()": "config.logscrub.ScrubSecretsFilter"}},
    "formatters": {
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["scrub_secrets"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": ["scrub_secrets"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}


# ==================== Storage: uploaded and fetched files (local or S3) ==========================
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

# Uploads stream through temporary files here, never through memory.
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR") or None


# ==================== SMT: uploads, retention, automation, usage =================================
SMT_UPLOAD_TOKEN = env("SMT_UPLOAD_TOKEN")
SMT_UPLOAD_MAX_BYTES = envint("SMT_UPLOAD_MAX_BYTES", str(512 * 1024 * 1024))
SMT_UPLOADS_PER_DAY = envint("SMT_UPLOADS_PER_DAY", "50")
SMT_INLINE_MAX_BYTES = 4 * 1024 * 1024
# JSON bodies (not file uploads): room for SMT_INLINE_MAX_BYTES as base64 plus the other fields.
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024
# A file not finished this long after it was received is queued again (a worker died).
SMT_STRANDED_AFTER_SECONDS = envint("SMT_STRANDED_AFTER_SECONDS", "900")

# Uploads up to this size are parsed whole before they are accepted (a file with no valid row is refused).
SMT_PRECHECK_FULL_BYTES = envint("SMT_PRECHECK_FULL_BYTES", str(2 * 1024 * 1024))
SMT_CUSTOMER_UPLOADS_PER_MONTH = envint("SMT_CUSTOMER_UPLOADS_PER_MONTH", "5")
# Reading an upload whole (customer files, small staff files) stops once its content, all
# members decompressed, passes this multiple of the upload or this many bytes: a 2 MB gzip of
# invalid rows once held a web worker for 108 s. See docs/SECURITY.md, "Upload limits".
# 100: real Green Button downloads zip 15:1 to 55:1 (XML repeats itself), while a bomb expands
# by thousands; SMT_UPLOAD_EXPAND_MAX_BYTES caps the total whatever the ratio.
SMT_UPLOAD_EXPAND_RATIO = envint("SMT_UPLOAD_EXPAND_RATIO", "100")
SMT_UPLOAD_EXPAND_MAX_BYTES = envint("SMT_UPLOAD_EXPAND_MAX_BYTES", str(256 * 1024 * 1024))
# Refused customer uploads per 24 hours; past it, uploads get 429 until older refusals age out.
SMT_UPLOAD_REFUSALS_PER_DAY = envint("SMT_UPLOAD_REFUSALS_PER_DAY", "10")
# Stored CSV files this big or bigger are parsed across a process pool during normalize
# (smt/parallel_parse.py); smaller ones in the worker's own thread, where a pool costs more
# than it saves. Workers: 0 means one per CPU core.
SMT_PARSE_PARALLEL_MIN_BYTES = envint("SMT_PARSE_PARALLEL_MIN_BYTES", str(32 * 1024 * 1024))
SMT_PARSE_WORKERS = envint("SMT_PARSE_WORKERS", "0")
# Intervals older than this many days are dropped by the smt-partitions schedule; 0 keeps them all.
SMT_RETENTION_DAYS = envint("SMT_RETENTION_DAYS", "0")

# Automation: the SFTP mirror, PGP bundles, the trigger webhook, the SMT API.
# SFTP mirror: an unknown or changed host key is refused (SMT_KNOWN_HOSTS, OpenSSH format).
SMT_HOST = env("SMT_HOST")
SMT_PORT = envint("SMT_PORT", "22")
SMT_USER = env("SMT_USER")
SMT_KEY = env("SMT_KEY")
SMT_KEY_PASSPHRASE = env("SMT_KEY_PASSPHRASE")
SMT_KNOWN_HOSTS = env("SMT_KNOWN_HOSTS")
SMT_REMOTE_DIR = env("SMT_REMOTE_DIR", "/")
SMT_SFTP_TIMEOUT = envint("SMT_SFTP_TIMEOUT", "30")
# Parallel SFTP connections per mirror run (paramiko decrypts in one thread per connection).
SMT_SFTP_CONNECTIONS = envint("SMT_SFTP_CONNECTIONS", "3")
# PGP-armored bundles: the keyring holding the project's private key.
SMT_GNUPG_HOME = env("SMT_GNUPG_HOME")
SMT_GNUPG_PASSPHRASE = env("SMT_GNUPG_PASSPHRASE")
SMT_BUNDLE_MAX_BYTES = envint("SMT_BUNDLE_MAX_BYTES", str(2 * 1024**3))
# Trigger webhook (POST /trigger/smt-now); DROPLET_WEBHOOK_SECRET is the older name.
INTELLIWATT_WEBHOOK_SECRET = env("INTELLIWATT_WEBHOOK_SECRET") or env("DROPLET_WEBHOOK_SECRET")
# SMT token proxy (POST /admin/smt/token).
SMT_PROXY_TOKEN = env("SMT_PROXY_TOKEN")
SMT_API_BASE_URL = env("SMT_API_BASE_URL", "https://services.smartmetertexas.net")
SMT_USERNAME = env("SMT_USERNAME")
SMT_PASSWORD = env("SMT_PASSWORD")
SMT_API_TIMEOUT = envint("SMT_API_TIMEOUT", "20")

# Performance (bench/, docs/PERFORMANCE.md). The usage summary page caches its rendered days per
# ESIID range in the process cache; the key moves with every normalize and deletion. 0 = off.
SMT_USAGE_CACHE_SECONDS = envint("SMT_USAGE_CACHE_SECONDS", "300")


# ==================== ERCOT: TDSP ESIID extract ==================================================
# Fetch paths, tried in this order among those configured: EWS (mutual TLS), the Public Data
# API, then the public MIS list (always configured). Every base URL is overridable for tests.
ERCOT_MIS_BASE_URL = env("ERCOT_MIS_BASE_URL", "https://www.ercot.com")
ERCOT_REPORT_TYPE = env("ERCOT_REPORT_TYPE", "203")
ERCOT_API_BASE_URL = env("ERCOT_API_BASE_URL", "https://api.ercot.com/api/public-reports")
ERCOT_TOKEN_URL = env(
    "ERCOT_TOKEN_URL",
    "https://ercotb2c.b2clogin.com/ercotb2c.onmicrosoft.com/B2C_1_PUBAPI-ROPC-FLOW/oauth2/v2.0/token",
)
ERCOT_CLIENT_ID = env("ERCOT_CLIENT_ID", "fec253ea-0d06-4272-a5e6-b478baeecd70")
ERCOT_SCOPE = env("ERCOT_SCOPE", "openid fec253ea-0d06-4272-a5e6-b478baeecd70 offline_access")
ERCOT_PRODUCT_ID = env("ERCOT_PRODUCT_ID", "ZP15-612")
ERCOT_SUBSCRIPTION_KEY = env("ERCOT_SUBSCRIPTION_KEY")
ERCOT_USERNAME = env("ERCOT_USERNAME")
ERCOT_PASSWORD = env("ERCOT_PASSWORD")
ERCOT_API_MIN_INTERVAL = float(envint("ERCOT_API_MIN_INTERVAL_MS", "2000")) / 1000  # 30 requests/minute
ERCOT_EWS_BASE = env("ERCOT_EWS_BASE")
ERCOT_EWS_PFX = env("ERCOT_EWS_PFX")  # base64 PKCS#12
ERCOT_EWS_PFX_PASS = env("ERCOT_EWS_PFX_PASS")
ERCOT_EWS_CERT = env("ERCOT_EWS_CERT")  # PEM text (or ERCOT_EWS_CERT_FILE)
ERCOT_EWS_KEY = env("ERCOT_EWS_KEY")
ERCOT_EWS_CA = env("ERCOT_EWS_CA")
ERCOT_EWS_REPORTTYPE = env("ERCOT_EWS_REPORTTYPE", "203")
ERCOT_EWS_SOURCE = env("ERCOT_EWS_SOURCE")  # Market Participant id for the EWS message header
ERCOT_EWS_USERID = env("ERCOT_EWS_USERID")
ERCOT_HTTP_TIMEOUT = envint("ERCOT_HTTP_TIMEOUT", "120")
# https://crontab.guru/#0_12_*_*_*  after the ~06:00 CT DAILY posting; see ercot.tasks for retries
ERCOT_CRON = env("ERCOT_CRON", "0 12 * * *")
# The cron endpoint: a header set by a trusted scheduler (e.g. "X-Appengine-Cron: true"), or ?token=.
CRON_HEADER = env("CRON_HEADER")
CRON_SECRET = env("CRON_SECRET")


# ==================== Telemetry: MQTT subscriber, ledger, totals =================================
MQTT_URL = env("MQTT_URL")  # mqtt://user:pass@host:1883 or mqtts://host:8883; empty = no subscriber
MQTT_TOPIC_PREFIX = env("MQTT_TOPIC_PREFIX", "autovolt")
MQTT_CLIENT_ID = env("MQTT_CLIENT_ID", "wattledger-telemetry")
MQTT_SHARED_GROUP = env("MQTT_SHARED_GROUP")  # several subscribers share the stream as $share/<group>/...
MQTT_CA_FILE = env("MQTT_CA_FILE")
MQTT_SESSION_EXPIRY_SECONDS = envint("MQTT_SESSION_EXPIRY_SECONDS", str(7 * 24 * 3600))  # MQTT 5 only
# 3.1.1 costs paho half the CPU per message (telemetry/mqtt.py says why); 5 for the session expiry above.
MQTT_PROTOCOL = env("MQTT_PROTOCOL", "3.1.1").strip()
if MQTT_PROTOCOL not in ("3.1.1", "5"):
    raise ImproperlyConfigured(f"MQTT_PROTOCOL must be 3.1.1 or 5, got {MQTT_PROTOCOL!r}")
TELEMETRY_TIME_ZONE = env("TELEMETRY_TIME_ZONE", "Asia/Kolkata")
try:
    import zoneinfo

    zoneinfo.ZoneInfo(TELEMETRY_TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TELEMETRY_TIME_ZONE must be an IANA zone, got {TELEMETRY_TIME_ZONE!r}") from None
# The currency telemetry costs are shown in (prices carry no unit); INR matches the default zone.
TELEMETRY_CURRENCY = env("TELEMETRY_CURRENCY", "INR")
TELEMETRY_GAP_SECONDS = envint("TELEMETRY_GAP_SECONDS", "900")
TELEMETRY_RETENTION_DAYS = envint("TELEMETRY_RETENTION_DAYS", "730")
TELEMETRY_SILENT_MINUTES = envint("TELEMETRY_SILENT_MINUTES", "15")
TELEMETRY_BATCH_SIZE = envint("TELEMETRY_BATCH_SIZE", "5000")
TELEMETRY_BATCH_SECONDS = float(envint("TELEMETRY_BATCH_MS", "200")) / 1000
# Processes (each with its own database connection) a subscriber stores batches with, split by
# device; 0 stores on the subscriber's own thread (telemetry/mqtt.py says why processes).
TELEMETRY_WRITERS = envint("TELEMETRY_WRITERS", "2")
if TELEMETRY_WRITERS < 0:
    raise ImproperlyConfigured(f"TELEMETRY_WRITERS must be 0 or more, got {TELEMETRY_WRITERS}")
# A step implying more than this power between two readings is a ledger glitch, not consumption.
TELEMETRY_MAX_POWER_W = envint("TELEMETRY_MAX_POWER_W", "25000")
if TELEMETRY_MAX_POWER_W <= 0:
    raise ImproperlyConfigured(f"TELEMETRY_MAX_POWER_W must be more than 0, got {TELEMETRY_MAX_POWER_W}")
# Device formats the one subscriber reads (telemetry/routes.py): autovolt is ours, under
# MQTT_TOPIC_PREFIX; the others are off-the-shelf firmware on the vendors' default topics. A `+`
# inside a level (`switch:+`) matches within it; MQTT itself only has whole-level wildcards.
TELEMETRY_ADAPTERS = envlist("TELEMETRY_ADAPTERS", "autovolt")
if unknown := sorted(set(TELEMETRY_ADAPTERS) - {"autovolt", "tasmota", "shelly", "esphome"}):
    raise ImproperlyConfigured(f"TELEMETRY_ADAPTERS takes autovolt, tasmota, shelly, esphome; got {', '.join(unknown)}")
TELEMETRY_TASMOTA_TOPICS = envlist("TELEMETRY_TASMOTA_TOPICS", "tele/+/SENSOR,tele/+/LWT")
TELEMETRY_SHELLY_TOPICS = envlist(
    "TELEMETRY_SHELLY_TOPICS", "+/status/switch:+,+/status/em:+,+/status/emdata:+,+/online"
)
TELEMETRY_ESPHOME_TOPICS = envlist("TELEMETRY_ESPHOME_TOPICS", "+/sensor/+/state,+/status")
# ESPHome states are bare numbers: the unit of each sensor, as its YAML sets it (name=unit, ...).
TELEMETRY_ESPHOME_UNITS = dict(
    item.partition("=")[::2] for item in envlist("TELEMETRY_ESPHOME_UNITS", "total_energy=kWh,power=W")
)
if bad := sorted(f"{k}={v}" for k, v in TELEMETRY_ESPHOME_UNITS.items() if v.strip().lower() not in ("wh", "kwh", "w")):
    raise ImproperlyConfigured(f"TELEMETRY_ESPHOME_UNITS takes sensor=Wh, sensor=kWh or sensor=W; got {', '.join(bad)}")


# ==================== Ops: monitors, alerts, metrics =============================================
SMT_LATE_HOURS = envint("SMT_LATE_HOURS", "48")
SMT_LATE_GRACE_HOURS = envint("SMT_LATE_GRACE_HOURS", "24")
SMT_MIRROR_LATE_MINUTES = envint("SMT_MIRROR_LATE_MINUTES", "90")
TELEMETRY_SUBSCRIBER_LATE_MINUTES = envint("TELEMETRY_SUBSCRIBER_LATE_MINUTES", "10")
WORKERS_LATE_MINUTES = envint("WORKERS_LATE_MINUTES", "10")
# The site's public base URL, for links in alerts.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")
ALERT_EMAILS = envlist("ALERT_EMAILS", "")
ALERT_WEBHOOK_URLS = env("ALERT_WEBHOOK_URLS").split()  # space-separated
ALERT_WEBHOOK_SECRET = env("ALERT_WEBHOOK_SECRET")
ALERT_APPRISE_URLS = env("ALERT_APPRISE_URLS").split()  # space-separated apprise URLs (Slack, Teams, ntfy, ...)
# Django 6.1's MAILERS replaces the EMAIL_* settings; the variables keep their familiar names.
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": env("EMAIL_HOST", "localhost"),
            "port": envint("EMAIL_PORT", "25"),
            "username": env("EMAIL_HOST_USER") or None,
            "password": env("EMAIL_HOST_PASSWORD") or None,
            "use_tls": envbool("EMAIL_USE_TLS", "false"),
            "timeout": 10,  # a stuck server fails the try, then backoff
        },
    }
}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "wattledger@localhost")
# GET /metrics: staff sessions, this bearer token, or these client addresses (REMOTE_ADDR).
METRICS_TOKEN = env("METRICS_TOKEN")
METRICS_ALLOWED_IPS = envlist("METRICS_ALLOWED_IPS", "")


# ==================== Workers: django-q2 =========================================================
Q_BROKER = env("Q_BROKER")
if Q_BROKER and not Q_BROKER.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"Q_BROKER must be a redis://, rediss:// or unix:// URL, got {Q_BROKER!r}")
Q_CLUSTER = {
    # The Redis queue key is django_q:<name>:q: deployments sharing one Redis need their own names.
    "name": env("Q_CLUSTER_NAME", "wattledger"),
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
    # django-q2 starts its workers daemonic by default, and a daemonic process may not start
    # children: a big file's parse (smt/parallel_parse.py) would then stay in one process.
    # Workers still stop with the cluster (it waits for each), and the parse pool exits with its worker.
    "daemonize_workers": envbool("Q_DAEMONIZE_WORKERS", "false"),
}
if Q_BROKER:
    Q_CLUSTER["redis"] = Q_BROKER
else:
    Q_CLUSTER["orm"] = "default"
