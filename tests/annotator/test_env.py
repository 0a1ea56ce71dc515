"""Settings helpers parse environment variables or fail with the variable's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator import env


def test_database_defaults_to_sqlite_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = env.get_database("DATABASE_URL", tmp_path / "db.sqlite3")
    assert config == {
        "ENGINE": "annotator.queued_sqlite3",
        "NAME": str(tmp_path / "db.sqlite3"),
        "CONN_MAX_AGE": 60,
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_url_is_split_into_parts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scheme: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"{scheme}://face%40loop:s%3Acret@db.example:6543/faces")
    config = env.get_database("DATABASE_URL", tmp_path / "unused")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"], config["NAME"]) == (
        "face@loop",
        "s:cret",
        "db.example",
        6543,
        "faces",
    )
    assert (config["CONN_MAX_AGE"], config["CONN_HEALTH_CHECKS"]) == (60, False)
    assert "OPTIONS" not in config


def test_postgres_url_keeps_its_query_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "DATABASE_URL", "postgres://faceloop@db.example/faces?sslmode=require&connect_timeout=5"
    )
    config = env.get_database("DATABASE_URL", tmp_path / "unused")
    assert config["OPTIONS"] == {"sslmode": "require", "connect_timeout": 5}
    assert (config["HOST"], config["NAME"], config["CONN_MAX_AGE"]) == ("db.example", "faces", 60)


def test_postgres_url_without_a_database_name_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://faceloop@db.example")
    with pytest.raises(env.SettingError, match=r"DATABASE_URL=.* names no database"):
        env.get_database("DATABASE_URL", tmp_path / "unused")


def test_absolute_sqlite_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    assert env.get_database("DATABASE_URL", tmp_path / "unused")["NAME"] == str(tmp_path / "x.db")


def test_relative_sqlite_url_is_resolved_from_the_working_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///var/x.db")
    assert env.get_database("DATABASE_URL", tmp_path / "unused")["NAME"] == str(tmp_path / "var" / "x.db")
    assert (tmp_path / "var").is_dir()


def test_sqlite_url_options_override_the_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db?timeout=5")
    options = env.get_database("DATABASE_URL", tmp_path / "unused")["OPTIONS"]
    assert options == {
        "timeout": 5,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }


def test_sqlite_url_without_a_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    with pytest.raises(env.SettingError, match="names no SQLite file"):
        env.get_database("DATABASE_URL", tmp_path / "unused")


def test_unknown_database_scheme_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://x/y")
    with pytest.raises(env.SettingError, match="DATABASE_URL"):
        env.get_database("DATABASE_URL", tmp_path / "unused")


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("false", False), ("OFF", False)])
def test_bool(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("DEBUG", raw)
    assert env.get_bool("DEBUG", not expected) is expected


def test_bad_bool_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(env.SettingError, match="DEBUG"):
        env.get_bool("DEBUG", False)


def test_choice_takes_a_listed_mode_and_refuses_a_misspelt_one(monkeypatch: pytest.MonkeyPatch) -> None:
    modes = ("django", "x-sendfile")
    monkeypatch.delenv("MEDIA_SENDFILE", raising=False)
    assert env.get_choice("MEDIA_SENDFILE", "django", modes) == "django"
    monkeypatch.setenv("MEDIA_SENDFILE", " X-Sendfile ")
    assert env.get_choice("MEDIA_SENDFILE", "django", modes) == "x-sendfile"
    monkeypatch.setenv("MEDIA_SENDFILE", "sendfile")
    with pytest.raises(env.SettingError, match="MEDIA_SENDFILE='sendfile': use one of django, x-sendfile"):
        env.get_choice("MEDIA_SENDFILE", "django", modes)


def test_secret_key_is_generated_once_and_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    key_file = tmp_path / "secret_key"
    first = env.get_secret_key("SECRET_KEY", key_file)
    assert len(first) > 40
    assert env.get_secret_key("SECRET_KEY", key_file) == first
    assert key_file.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("raw", ["cpu", "cuda", "cuda:1", "auto"])
def test_torch_device_accepts(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("TORCH_DEVICE", raw)
    assert env.get_torch_device("TORCH_DEVICE") == raw


def test_torch_device_refuses_typos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_DEVICE", "gpu")
    with pytest.raises(env.SettingError, match="TORCH_DEVICE"):
        env.get_torch_device("TORCH_DEVICE")


@pytest.mark.parametrize(
    ("raw", "message"), [("ten", "not a whole number"), ("0", "out of range"), ("70000", "out of range")]
)
def test_integers_are_checked_and_errors_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw, message
) -> None:
    monkeypatch.setenv("FACELOOP_REDIS_PORT", raw)
    with pytest.raises(env.SettingError, match=f"FACELOOP_REDIS_PORT.*{message}"):
        env.get_int("FACELOOP_REDIS_PORT", 6390, minimum=1, maximum=65535)


def test_an_unset_or_blank_integer_takes_its_default_and_a_good_one_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FACELOOP_TRAIN_EPOCHS", raising=False)
    assert env.get_int("FACELOOP_TRAIN_EPOCHS", 30, minimum=1) == 30
    monkeypatch.setenv("FACELOOP_TRAIN_EPOCHS", " ")
    assert env.get_int("FACELOOP_TRAIN_EPOCHS", 30, minimum=1) == 30
    monkeypatch.setenv("FACELOOP_TRAIN_EPOCHS", " 12 ")
    assert env.get_int("FACELOOP_TRAIN_EPOCHS", 30, minimum=1) == 12


def test_storage_defaults_to_the_media_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACELOOP_STORAGE", raising=False)
    assert env.get_storages("FACELOOP_STORAGE")["default"] == {
        "BACKEND": "django.core.files.storage.FileSystemStorage"
    }


def test_s3_storage_is_private_signed_and_needs_a_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACELOOP_STORAGE", "s3")
    monkeypatch.delenv("FACELOOP_S3_BUCKET", raising=False)
    with pytest.raises(env.SettingError, match="FACELOOP_S3_BUCKET"):
        env.get_storages("FACELOOP_STORAGE")
    monkeypatch.setenv("FACELOOP_S3_BUCKET", "faces")
    monkeypatch.setenv("FACELOOP_S3_ENDPOINT_URL", "http://minio:9000")
    monkeypatch.setenv("FACELOOP_S3_URL_SECONDS", "30")
    default = env.get_storages("FACELOOP_STORAGE")["default"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    options = default["OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"], options["region_name"]) == (
        "faces",
        "http://minio:9000",
        "us-east-1",
    )
    assert (options["default_acl"], options["querystring_auth"], options["querystring_expire"]) == (
        None,
        True,
        30,
    )
    monkeypatch.setenv("FACELOOP_STORAGE", "ftp")
    with pytest.raises(env.SettingError, match="FACELOOP_STORAGE"):
        env.get_storages("FACELOOP_STORAGE")


def test_media_sendfile_must_fit_the_storage() -> None:
    folder = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    bucket = {"default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    assert env.check_media_sendfile("x-accel-redirect", folder) == "x-accel-redirect"
    assert env.check_media_sendfile("signed-url", bucket) == "signed-url"
    assert env.check_media_sendfile("django", bucket) == "django"
    with pytest.raises(env.SettingError, match="signed-url needs FACELOOP_STORAGE=s3"):
        env.check_media_sendfile("signed-url", folder)
    with pytest.raises(env.SettingError, match="MEDIA_SENDFILE=x-sendfile"):
        env.check_media_sendfile("x-sendfile", bucket)
