"""One settings module; every value that differs between machines comes from the environment.

Unset variables give the embedded default (SQLite, no broker server, the packaged model),
so `make run` works on a bare machine. Values that cannot be parsed do not crash the
import: they are collected in CONFIG_ERRORS and reported by a system check that names the
variable (tracker/checks.py), so `manage.py check` and every start-up say what is wrong.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# After .env is read, so VAR_DIR there counts like every other variable.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

CONFIG_ERRORS: list[tuple[str, str]] = []


def _read(name: str, parse: Any, default: Any) -> Any:
    """Parse one variable; on a bad value keep the default and remember the error."""
    try:
        return parse(name, default=default)
    except Exception as exc:
        CONFIG_ERRORS.append((name, f"{exc.__class__.__name__}: {exc}"))
        return default


DEBUG: bool = _read("DEBUG", env.bool, False)
SECRET_KEY: str = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        CONFIG_ERRORS.append(("SECRET_KEY", "must be set when DEBUG is off"))
    # Only ever used locally: DEBUG on, or start-up refused by the check above.
    SECRET_KEY = "insecure-local-development-key-not-for-production"  # noqa: S105

ALLOWED_HOSTS: list[str] = _read("ALLOWED_HOSTS", env.list, ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = _read("CSRF_TRUSTED_ORIGINS", env.list, [])
SITE_URL: str = _read("SITE_URL", env.str, "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # The stock admin with our site: curators only, a 403 for other signed-in users.
    "tracker.teams.admin_config.TrackerAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "tracker.core",
    "tracker.teams",
    "tracker.papers",
    "tracker.topics",
    "tracker.follows",
    "tracker.search",
    "tracker.triage",
    "tracker.reproductions",
    "tracker.digests",
    "tracker.portal",
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
    # Every page needs a login unless its view is marked public (login, health check).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "tracker.core.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "tracker.urls"
WSGI_APPLICATION = "tracker.wsgi.application"

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
                "tracker.teams.context_processors.current_team",
            ],
        },
    },
    # Jinja2 (Django's own backend) for the few fragments a page repeats a hundred times,
    # where the Django template language costs several times more than the page's queries:
    # the board's cards. Pages stay in the Django language and reach these through a tag.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"autoescape": True, "auto_reload": False, "trim_blocks": False},
    },
]

# --- Database -----------------------------------------------------------------------------
_SQLITE_URL = f"sqlite:///{VAR_DIR / 'tracker.sqlite3'}"
DATABASE_URL: str = _read("DATABASE_URL", env.str, _SQLITE_URL)
# The two databases the search and upsert code is written and tested for.
_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}
try:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    if DATABASES["default"].get("ENGINE") not in _ENGINES:
        raise ValueError("use a postgres:// or sqlite:/// URL")
except Exception as exc:
    CONFIG_ERRORS.append(("DATABASE_URL", f"{exc.__class__.__name__}: {exc}"))
    DATABASES = {"default": env.db_url_config(_SQLITE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web process read while the worker writes; the timeout waits out a
    # writer instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: also the cross-process arXiv politeness gate (cache.add with expiry) ------------
REDIS_URL: str = _read("REDIS_URL", env.str, "")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's, keeping its redis-py client between calls (see the module).
            "BACKEND": "tracker.core.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that stops answering costs a page 2 s, not a hung worker thread; the
            # cache then answers a miss (tracker/core/cache.py).
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    # What a page computes and any web process may reuse (the inbox's fitted orders): the
    # same Redis, so a reload served by another process finds it.
    CACHES["pages"] = {**CACHES["default"], "KEY_PREFIX": "pages"}
else:
    # The database cache's add() is one INSERT, so it is atomic across processes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "tracker_cache",
        },
        # Without Redis, this process's memory: the embedded default runs one web process,
        # and the database cache would spend more queries on a page than the part saves.
        "pages": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "pages",
            "OPTIONS": {"MAX_ENTRIES": 64},
        },
    }

# --- Auth -----------------------------------------------------------------------------------
# Sessions are read from the cache and written through to the database: every page needs
# the session, and the database copy keeps everyone signed in across a cache restart.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Five wrong passwords lock that username from that address for 15 minutes.
AXES_FAILURE_LIMIT: int = _read("AXES_FAILURE_LIMIT", env.int, 5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# A team invitation link works this long; a stale link in an old mailbox grants nothing.
INVITATION_TTL_DAYS: int = _read("INVITATION_TTL_DAYS", env.int, 7)

# --- I18N / time ------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Static files (whitenoise; htmx, KaTeX and charts are vendored, no CDN) ------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "tracker" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production: DEBUG off) ---------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
_HTTPS: bool = _read("HTTPS", env.bool, not DEBUG)
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
SECURE_SSL_REDIRECT: bool = _read("SECURE_SSL_REDIRECT", env.bool, False)
# A year, the usual max-age, whenever the site is served over HTTPS; 0 sends no header.
SECURE_HSTS_SECONDS: int = _read(
    "SECURE_HSTS_SECONDS", env.int, 365 * 24 * 60 * 60 if _HTTPS else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _HTTPS else None
# W008: a proxy in front terminates TLS and redirects; the app would redirect health checks.
# W005, W021: subdomains and the browser preload list are the operator's choice, not ours.
SILENCED_SYSTEM_CHECKS = ["security.W008", "security.W005", "security.W021"]

# --- Email ------------------------------------------------------------------------------------
EMAIL_URL: str = _read("EMAIL_URL", env.str, "consolemail://")
try:
    globals().update(env.email_url_config(EMAIL_URL))
except Exception as exc:
    CONFIG_ERRORS.append(("EMAIL_URL", f"{exc.__class__.__name__}: {exc}"))
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL: str = _read("DEFAULT_FROM_EMAIL", env.str, "Paper tracker <tracker@localhost>")
EMAIL_TIMEOUT = 20

# --- Pipeline ---------------------------------------------------------------------------------
EMBEDDING_MODEL: str = _read("EMBEDDING_MODEL", env.str, "packaged:all-MiniLM-L6-v2")
EMBEDDING_BATCH_SIZE: int = _read("EMBEDDING_BATCH_SIZE", env.int, 64)
# "torch" runs the model; "onnx" the same model exported locally to ONNX with int8 weights
# (several times faster, nearly the same vectors); "static" a token table distilled from it
# (fastest, coarser). Vectors are stored per backend, so switching re-embeds in the background.
# onnx is the default by measurement (bench/embed.py): the only backend fast enough for a
# new user's import to be searchable within minutes at >= 0.95 of torch's clustering quality.
EMBEDDING_BACKEND: str = _read("EMBEDDING_BACKEND", env.str, "onnx")
if EMBEDDING_BACKEND not in {"torch", "onnx", "static"}:
    CONFIG_ERRORS.append(("EMBEDDING_BACKEND", "use torch, onnx or static"))
    EMBEDDING_BACKEND = "onnx"
# Tokens the onnx backend reads of each text: attention cost grows with the square of it.
EMBEDDING_ONNX_MAX_TOKENS: int = _read("EMBEDDING_ONNX_MAX_TOKENS", env.int, 128)
if not 1 <= EMBEDDING_ONNX_MAX_TOKENS <= 512:
    CONFIG_ERRORS.append(("EMBEDDING_ONNX_MAX_TOKENS", "use 1 to 512 (the model's window)"))
    EMBEDDING_ONNX_MAX_TOKENS = 128
# Papers per embedding task: small enough that a killed worker repeats little work.
EMBEDDING_TASK_CHUNK: int = _read("EMBEDDING_TASK_CHUNK", env.int, 256)
# Where search finds nearest vectors: "auto" is the database's pgvector index once the
# column holds every vector (PostgreSQL with the extension), else each process's own
# in-process index; "in-process" keeps the latter everywhere.
VECTOR_STORE: str = _read("VECTOR_STORE", env.str, "auto")
if VECTOR_STORE not in {"auto", "in-process"}:
    CONFIG_ERRORS.append(("VECTOR_STORE", "use auto or in-process"))
    VECTOR_STORE = "auto"
# How many topics a clustering run makes; 0 picks one from the number of papers.
CLUSTER_TOPICS: int = _read("CLUSTER_TOPICS", env.int, 0)
# Up to this many papers a clustering run holds every vector in memory (full k-means,
# ~150 MB at 100k papers); past it the run streams them from the database in batches of
# CLUSTER_BATCH (mini-batch k-means), so memory no longer grows with the corpus.
CLUSTER_IN_MEMORY_PAPERS: int = _read("CLUSTER_IN_MEMORY_PAPERS", env.int, 100_000)
CLUSTER_BATCH: int = _read("CLUSTER_BATCH", env.int, 10_000)
ARXIV_API_URL: str = _read("ARXIV_API_URL", env.str, "https://export.arxiv.org/api/query")
ARXIV_OAI_URL: str = _read("ARXIV_OAI_URL", env.str, "https://oaipmh.arxiv.org/oai")
ARXIV_DELAY_SECONDS: float = _read("ARXIV_DELAY_SECONDS", env.float, 3.0)
ARXIV_PAGE_SIZE: int = _read("ARXIV_PAGE_SIZE", env.int, 100)
HARVEST_WINDOW_DAYS: int = _read("HARVEST_WINDOW_DAYS", env.int, 7)
FETCH_TIMEOUT_SECONDS: float = _read("FETCH_TIMEOUT_SECONDS", env.float, 20.0)
FETCH_MAX_BYTES: int = _read("FETCH_MAX_BYTES", env.int, 20 * 1024 * 1024)
# When a person waits on a fetch (adding a paper), it fails within this many seconds in all.
FETCH_INTERACTIVE_SECONDS: float = _read("FETCH_INTERACTIVE_SECONDS", env.float, 4.0)
# Admin-entered URLs may not reach private or loopback addresses unless this is on (tests).
FETCH_ALLOW_PRIVATE: bool = _read("FETCH_ALLOW_PRIVATE", env.bool, False)
# Outgoing webhooks of follows' alerts: a failed delivery waits BASE * 2**n seconds, capped
# below the Redis visibility timeout (a longer countdown is redelivered early by Redis), and
# is given up after this many attempts (30 s, 1, 2, 4, 8, 10, 10 ... min: about 40 min).
WEBHOOK_RETRY_BASE_SECONDS: float = _read("WEBHOOK_RETRY_BASE_SECONDS", env.float, 30.0)
WEBHOOK_RETRY_MAX_SECONDS: float = _read("WEBHOOK_RETRY_MAX_SECONDS", env.float, 10 * 60.0)
WEBHOOK_MAX_ATTEMPTS: int = _read("WEBHOOK_MAX_ATTEMPTS", env.int, 8)
# A failed arXiv/OAI request is tried this many times in a run, waiting DELAY * 2**n (or the
# server's Retry-After, capped) in between; past that the run fails and the task retries later.
HARVEST_RETRY_ATTEMPTS: int = _read("HARVEST_RETRY_ATTEMPTS", env.int, 4)
HARVEST_RETRY_DELAY_SECONDS: float = _read("HARVEST_RETRY_DELAY_SECONDS", env.float, 5.0)
HARVEST_MAX_RETRY_AFTER_SECONDS: float = _read("HARVEST_MAX_RETRY_AFTER_SECONDS", env.float, 120.0)
# A running harvest moves its heartbeat at every committed page. The longest honest gap is a
# page's in-run retries (4 tries of up to 20 s, waits of up to 120 s: about 7 min), so a run
# silent for 10 min was killed with its worker: it is marked failed and its source re-queued.
HARVEST_RUN_LOST_SECONDS: int = _read("HARVEST_RUN_LOST_SECONDS", env.int, 10 * 60)
# Claims are drafted by the built-in rules unless an OpenAI-compatible endpoint is named
# (vLLM, Ollama, a hosted API; e.g. http://127.0.0.1:11434/v1). It is off by default.
LLM_BASE_URL: str = _read("LLM_BASE_URL", env.str, "")
LLM_MODEL: str = _read("LLM_MODEL", env.str, "")
LLM_API_KEY: str = _read("LLM_API_KEY", env.str, "")
LLM_TIMEOUT_SECONDS: float = _read("LLM_TIMEOUT_SECONDS", env.float, 60.0)

# The code watch (pipeline/codewatch.py): an optional token lifts GitHub's limit from 60
# to 5,000 requests an hour; the API addresses are settings so tests can use loopback.
GITHUB_TOKEN: str = _read("GITHUB_TOKEN", env.str, "")
CODEWATCH_GITHUB_API: str = _read("CODEWATCH_GITHUB_API", env.str, "https://api.github.com")
CODEWATCH_GITLAB_API: str = _read("CODEWATCH_GITLAB_API", env.str, "https://gitlab.com/api/v4")
CODEWATCH_HF_API: str = _read("CODEWATCH_HF_API", env.str, "https://huggingface.co/api")
# Seconds between two requests to one host: well under GitHub's and Hugging Face's limits.
CODEWATCH_HOST_INTERVAL: float = _read("CODEWATCH_HOST_INTERVAL", env.float, 3.0)
if LLM_BASE_URL and not LLM_MODEL:
    CONFIG_ERRORS.append(("LLM_MODEL", "name the model to ask when LLM_BASE_URL is set"))

# --- Celery: the reliability policy, written once --------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if REDIS_URL:
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A message unacked for this long is redelivered: this is how soon the work of a
        # worker killed outright (SIGKILL, OOM, a lost machine) starts again, so it stays
        # under 15 min. Every time limit below stays under it, so a task still running is
        # never handed to a second worker; it is also above HARVEST_RUN_LOST_SECONDS, so a
        # redelivered harvest finds its killed run already closed.
        "visibility_timeout": _read("CELERY_VISIBILITY_TIMEOUT", env.int, 12 * 60),
    }
    # A retry's countdown past the visibility timeout is redelivered early by Redis.
    if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= WEBHOOK_RETRY_MAX_SECONDS:
        CONFIG_ERRORS.append(
            ("WEBHOOK_RETRY_MAX_SECONDS", "keep it below CELERY_VISIBILITY_TIMEOUT")
        )
else:
    # Embedded default: the broker is a folder, results a folder; no server to run.
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange tables for broadcast (worker control); kombu's default is ./control.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'results'}"
    # kombu and the file result backend expect their folders to exist.
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "results").mkdir(parents=True, exist_ok=True)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Each queue has its own exchange and key, so a message lands in exactly one queue.
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name, type="direct"), routing_key=name)
    for name in ("default", "harvest", "ml", "email")
]
CELERY_TASK_ROUTES = {
    "workers.tasks.harvest_*": {"queue": "harvest"},
    # Not on "harvest": its one process may be busy with a long harvest.
    "workers.tasks.reap_lost_harvests_task": {"queue": "default"},
    "workers.tasks.embed_*": {"queue": "ml"},
    "workers.tasks.cluster_*": {"queue": "ml"},
    "workers.tasks.send_*": {"queue": "email"},
}
# Every task is idempotent, so acknowledging after it finishes turns a crashed worker
# into a repeat of the work instead of a loss of it.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# With acks_late each process reserves one message only: a long harvest does not hold
# back the queue behind it, and a killed process loses one message at most.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Hard limit 10 min, soft 9 min: below the 12 min visibility timeout above. Tasks are
# bounded to fit: a harvest pages ~100 pages at 3 s (5 min), embedding goes in chunks of
# EMBEDDING_TASK_CHUNK papers, digests are one member each.
CELERY_TASK_TIME_LIMIT = 10 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 9 * 60
# Results are only read by tests and operators; keep them one day.
CELERY_RESULT_EXPIRES = 24 * 60 * 60
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A restarted embedding worker (model load ~seconds, memory ~0.5 GB) should not leak.
CELERY_WORKER_MAX_TASKS_PER_CHILD = 200
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A Redis restart or failover must not end the worker: it reconnects for as long as it takes
# (the default gives up after 100 tries, and the process exits).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_ALWAYS_EAGER: bool = _read("CELERY_TASK_ALWAYS_EAGER", env.bool, False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # /health/ shows when a worker last ran this, so a dead worker is visible.
    "record-heartbeat": {"task": "workers.tasks.record_heartbeat_task", "schedule": 60.0},
    # Claims the members whose weekly digest is due; each is sent on the email queue.
    # Five minutes is as late as a digest may arrive after the member's chosen hour.
    "send-due-digests": {"task": "workers.tasks.send_due_digests_task", "schedule": 300.0},
    # Cheap when nothing is due: each source carries its own interval and next run time.
    "harvest-due-sources": {"task": "workers.tasks.harvest_due_sources_task", "schedule": 300.0},
    # Runs killed with their worker are closed and their sources queued again, so the
    # work restarts within HARVEST_RUN_LOST_SECONDS and a minute.
    "reap-lost-harvests": {"task": "workers.tasks.reap_lost_harvests_task", "schedule": 60.0},
    # Cheap when nothing is missing (one query); new papers get vectors within two minutes.
    "embed-pending-papers": {
        "task": "workers.tasks.embed_pending_papers_task",
        "schedule": 120.0,
    },
    # Topics for a fresh install or a large import within minutes, not at the nightly run;
    # also queued after each embedding task. Cheap when nothing is due.
    "cluster-papers-if-due": {
        "task": "workers.tasks.cluster_papers_if_due_task",
        "schedule": 300.0,
    },
    # Nightly: topics are re-fitted on everything; between runs new papers join the
    # nearest topic as soon as they are embedded.
    "cluster-papers": {
        "task": "workers.tasks.cluster_papers_task",
        "schedule": crontab(hour=3, minute=30),
    },
    # Nightly, after clustering: on pgvector, the broad categories' own vector indexes
    # (built concurrently; searches and harvests go on).
    "sync-vector-indexes": {
        "task": "workers.tasks.sync_vector_indexes_task",
        "schedule": crontab(hour=4, minute=30),
    },
    # Nightly: on PostgreSQL, the newest papers' own full-text index, built again once it
    # has grown (concurrently; searches and harvests go on).
    "sync-newest-text-index": {
        "task": "workers.tasks.sync_newest_text_index_task",
        "schedule": crontab(hour=4, minute=50),
    },
    # The papers a team shares out usually go just after their embedding run; this shares
    # the rest (no vector an hour on, a lost task) and moves the shares of members away.
    "sweep-shares": {"task": "workers.tasks.sweep_shares_task", "schedule": 600.0},
    # Alert deliveries whose message was lost with the broker, or whose worker died, go
    # out again within a few minutes (cheap: one indexed query when nothing is lost).
    "deliver-lost-alerts": {"task": "workers.tasks.deliver_lost_alerts_task", "schedule": 120.0},
    # Hourly: each link carries its own next check (daily while the paper is new, weekly
    # after), so a run checks only what is due, a bounded batch at a time.
    "watch-code": {"task": "workers.tasks.watch_code_task", "schedule": 3600.0},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
