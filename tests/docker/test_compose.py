"""The compose files: every service restarts when it stops and says how to check its health;
the image seeds no demo account."""

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
        assert merged["healthcheck"]["test"], service


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
