"""The compose files: PostgreSQL, Redis, an S3 store and its bucket, web and scalable workers that
share no folder; every service restarts when it stops and says how to check its health (a
one-shot says it is done by exiting); the image seeds no demo account."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def services(name: str) -> dict[str, dict]:
    return yaml.safe_load((DOCKER / name).read_text())["services"]


@pytest.mark.parametrize("name", ["compose.yaml", "compose.gpu.yaml"])
def test_every_service_has_a_restart_policy_and_a_health_check(name: str) -> None:
    base = services("compose.yaml")
    for service, spec in services(name).items():
        extended = spec.get("extends", {}).get("service", service)
        merged = {**base.get(extended, {}), **spec}
        assert merged.get("restart") in {"unless-stopped", "on-failure"}, service
        if service not in one_shots():
            assert merged["healthcheck"]["test"], service


def one_shots() -> set[str]:
    """Services others wait for to finish (``service_completed_successfully``), not to be healthy."""
    return {
        needed
        for spec in services("compose.yaml").values()
        for needed, condition in (spec.get("depends_on") or {}).items()
        if condition["condition"] == "service_completed_successfully"
    }


def test_each_worker_pings_itself_by_the_node_name_it_runs_under() -> None:
    for name in ("compose.yaml", "compose.gpu.yaml"):
        for service, spec in services(name).items():
            command = spec.get("command") or []
            if "worker" not in command:
                continue
            node = command[command.index("--hostname") + 1].replace("%h", "$$(hostname)")
            assert spec["healthcheck"]["test"] == [
                "CMD-SHELL",
                f"celery -A annotator inspect ping --timeout 10 -d {node}",
            ], service


def test_health_checks_of_redis_postgres_and_web() -> None:
    base = services("compose.yaml")
    assert base["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert base["postgres"]["healthcheck"]["test"] == ["CMD-SHELL", "pg_isready -U faceloop"]
    assert "http://127.0.0.1:8000/healthz" in base["web"]["healthcheck"]["test"][-1]


def test_the_image_seeds_no_demo_and_serves_with_uvicorn_workers() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert "seed_demo" not in command
    assert "annotator.asgi:application" in command
    assert "--worker-class annotator.web_server.UvicornWorker" in command


LONG_RUNNING = {"postgres", "redis", "minio", "web", "worker-train", "worker-default"}
STORAGE_ENV = {
    "FACELOOP_STORAGE": "s3",
    "FACELOOP_S3_BUCKET": "${FACELOOP_S3_BUCKET:-faceloop}",
    "FACELOOP_S3_ENDPOINT_URL": "${FACELOOP_S3_ENDPOINT_URL-http://minio:9000}",
    "FACELOOP_S3_REGION": "${FACELOOP_S3_REGION:-us-east-1}",
    "AWS_ACCESS_KEY_ID": "${AWS_ACCESS_KEY_ID:-faceloop}",
    "AWS_SECRET_ACCESS_KEY": "${AWS_SECRET_ACCESS_KEY:-faceloop-minio-secret}",
    "FACELOOP_LOCAL_DIR": "/data/local",
}


def app_services() -> dict[str, dict]:
    """The services that run FaceLoop's image: the web server and every worker."""
    return {name: spec for name, spec in services("compose.yaml").items() if "build" in spec}


def test_the_stack_is_postgres_redis_an_s3_store_its_bucket_web_and_workers() -> None:
    assert set(services("compose.yaml")) == LONG_RUNNING | {"s3-bucket"}
    assert set(app_services()) == {"web", "worker-train", "worker-default"}
    bucket = services("compose.yaml")["s3-bucket"]
    assert bucket["restart"] == "on-failure"  # a one-shot: retried until MinIO takes the bucket, then done
    assert bucket["depends_on"] == {"minio": {"condition": "service_healthy"}}
    assert 'mc mb --ignore-existing "store/$$BUCKET"' in bucket["entrypoint"][-1]
    assert services("compose.yaml")["minio"]["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]


def test_web_and_workers_share_no_folder_and_store_files_in_s3() -> None:
    for name, spec in app_services().items():
        assert "volumes" not in spec, name  # each container keeps only its own FACELOOP_LOCAL_DIR
        assert {key: spec["environment"].get(key) for key in STORAGE_ENV} == STORAGE_ENV, name
        assert spec["environment"]["DATABASE_URL"].startswith("postgres://")
        assert spec["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    gpu = services("compose.gpu.yaml")
    assert all("volumes" not in spec for spec in gpu.values())
    declared = yaml.safe_load((DOCKER / "compose.yaml").read_text())["volumes"]
    assert set(declared) == {"postgres", "redis", "objects"}


def test_web_and_workers_wait_for_healthy_services_and_the_bucket() -> None:
    expected = {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "s3-bucket": {"condition": "service_completed_successfully"},
    }
    for name, spec in app_services().items():
        assert spec["depends_on"] == expected, name
    assert services("compose.gpu.yaml")["worker-train-gpu1"]["depends_on"] == expected


def test_workers_scale_each_replica_a_node_of_its_own() -> None:
    """``--scale`` needs no fixed name or host port; ``%h`` makes each replica's node name its own."""
    for name in ("worker-train", "worker-default"):
        spec = app_services()[name]
        assert "container_name" not in spec and "ports" not in spec, name
        assert spec["command"][spec["command"].index("--hostname") + 1].endswith("@%h"), name
