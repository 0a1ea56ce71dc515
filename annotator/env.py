"""Typed helpers that read settings from environment variables.

Every setting FaceLoop takes from the environment goes through one of these, so a wrong
value fails at start-up with a message naming the variable, not later with a stack trace.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}
DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql"}
# Seconds a database connection is reused by the thread that opened it (health checks stay
# off): opening one costs about as much as a vote's queries (annotator.view_threads).
CONN_MAX_AGE_SECONDS = 60


class SettingError(ValueError):
    """An environment variable holds a value FaceLoop cannot use."""


def get_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def get_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingError(f"{name}={raw!r} is not a boolean; use one of {sorted(TRUE_WORDS | FALSE_WORDS)}")


def get_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    """A whole number within ``[minimum, maximum]``, so ``FACELOOP_TRAIN_EPOCHS=ten`` fails at start-up."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        limit = "no upper limit" if maximum is None else f"at most {maximum}"
        raise SettingError(f"{name}={value} is out of range: at least {minimum}, {limit}")
    return value


def get_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (compared in lower case), so a misspelt mode fails at start-up."""
    raw = os.environ.get(name, default).strip().lower()
    if raw in choices:
        return raw
    raise SettingError(f"{name}={raw!r}: use one of {', '.join(choices)}")


def get_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def get_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


def get_database(name: str, default_sqlite_path: Path) -> dict[str, object]:
    """Parse ``DATABASE_URL`` into Django's DATABASES entry with dj-database-url.

    Accepts ``sqlite:///relative.db``, ``sqlite:////absolute.db`` and
    ``postgres://user:password@host:port/name`` (or ``postgresql://``); query options such
    as ``?sslmode=require&connect_timeout=5`` become the connection's ``OPTIONS``. SQLite
    gets a busy timeout and WAL journaling so concurrent annotators and the worker do not
    trip over locks. Connections of both are kept for 60 seconds.
    """
    raw = os.environ.get(name)
    if not raw:
        return _sqlite(default_sqlite_path, {})
    scheme = raw.partition("://")[0]
    if scheme not in DATABASE_SCHEMES:
        raise SettingError(f"{name}={raw!r}: unsupported scheme {scheme!r}; use sqlite:// or postgres://")
    config = dict(dj_database_url.parse(raw, conn_max_age=CONN_MAX_AGE_SECONDS))
    options = dict(config.get("OPTIONS") or {})
    if scheme == "sqlite":
        if config["NAME"] in {"", ":memory:"}:
            raise SettingError(f"{name}={raw!r} names no SQLite file")
        return _sqlite(Path(str(config["NAME"])).resolve(), options)
    if not config["NAME"]:
        raise SettingError(f"{name}={raw!r} names no database")
    return config


def _sqlite(path: Path, url_options: dict[str, object]) -> dict[str, object]:
    """A SQLite file; options from the URL override the defaults below."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "annotator.queued_sqlite3",
        "NAME": str(path),
        "CONN_MAX_AGE": CONN_MAX_AGE_SECONDS,
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            **url_options,
        },
    }


def get_secret_key(name: str, key_file: Path) -> str:
    """``SECRET_KEY`` from the environment, else one generated once and kept in ``key_file``."""
    raw = os.environ.get(name)
    if raw:
        return raw
    if key_file.exists():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def get_torch_device(name: str, default: str = "cpu") -> str:
    """``TORCH_DEVICE``: ``cpu`` (default), ``cuda``, ``cuda:N`` or ``auto``.

    Only the spelling is checked here; whether CUDA is present is checked by the worker
    when it resolves the device (importing torch in settings would slow every request).
    """
    raw = os.environ.get(name, default).strip().lower()
    if raw in {"cpu", "cuda", "auto"} or (raw.startswith("cuda:") and raw[5:].isdigit()):
        return raw
    raise SettingError(f"{name}={raw!r}: use cpu, cuda, cuda:N or auto")


STORAGE_KINDS = ("filesystem", "s3")


def get_storages(name: str) -> dict[str, dict[str, object]]:
    """Django's ``STORAGES`` from ``FACELOOP_STORAGE``: the media folder, or an S3-compatible bucket.

    ``filesystem`` (the default) keeps every file under ``MEDIA_ROOT`` on this host (read when
    used, so a changed ``MEDIA_ROOT`` moves it). ``s3`` keeps
    them in ``FACELOOP_S3_BUCKET`` (at ``FACELOOP_S3_ENDPOINT_URL`` for MinIO or another
    S3-compatible service), so web servers and workers on different hosts share no disk. Objects
    are private (no ACL is set: the bucket's default, which is private) and every URL handed
    out is signed for ``FACELOOP_S3_URL_SECONDS``. Credentials come from boto3's own
    environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``), never from settings.
    """
    kind = get_choice(name, "filesystem", STORAGE_KINDS)
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    if kind == "filesystem":
        return {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": static,
        }
    bucket = os.environ.get("FACELOOP_S3_BUCKET", "").strip()
    if not bucket:
        raise SettingError(f"{name}=s3 needs FACELOOP_S3_BUCKET, the bucket that holds the files")
    options: dict[str, object] = {
        "bucket_name": bucket,
        "endpoint_url": os.environ.get("FACELOOP_S3_ENDPOINT_URL", "").strip() or None,
        "region_name": get_str("FACELOOP_S3_REGION", "us-east-1").strip() or "us-east-1",
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": get_int("FACELOOP_S3_URL_SECONDS", 60, minimum=1, maximum=7 * 24 * 3600),
        "file_overwrite": True,  # names are chosen by FaceLoop and never reused for other bytes
        "signature_version": "s3v4",
    }
    return {
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
        "staticfiles": static,
    }


LOCAL_SENDFILE_MODES = ("x-accel-redirect", "x-sendfile")
"""Ways of sending a file that hand a path of the media folder to the front server."""


def check_media_sendfile(mode: str, storages: dict[str, dict[str, object]]) -> str:
    """``MEDIA_SENDFILE`` if it fits the storage: a front server reads the media folder only, and
    only a bucket signs URLs."""
    remote = storages["default"]["BACKEND"] != "django.core.files.storage.FileSystemStorage"
    if remote and mode in LOCAL_SENDFILE_MODES:
        raise SettingError(
            f"MEDIA_SENDFILE={mode} hands the front server a file of the media folder, and "
            "FACELOOP_STORAGE=s3 keeps none there: use django (streamed) or signed-url"
        )
    if not remote and mode == "signed-url":
        raise SettingError(
            "MEDIA_SENDFILE=signed-url needs FACELOOP_STORAGE=s3: the media folder signs no URLs"
        )
    return mode
