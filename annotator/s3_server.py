"""An S3-compatible server for the development stack: moto's server, with FaceLoop's bucket in it.

``manage.py run_distributed`` stores files in S3 as a deployment does, without an account at
a cloud provider: moto answers the S3 API on 127.0.0.1. It keeps every object in memory, so
its objects are gone when it stops or is restarted; the bucket is created again on each start.
Point ``FACELOOP_S3_*`` at a real bucket to keep files.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

import boto3

from annotator.processes import ManagedProcess, spawn, wait_until

START_TIMEOUT_SECONDS = 30.0
REGION = "us-east-1"
ACCESS_KEY = "faceloop-dev"
"""Any key pair is accepted by moto; these only have to be set, as boto3 signs every request."""
SECRET_KEY = "faceloop-dev-secret"


def endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # an S3 error document is an answer
    except OSError:
        return False


def create_bucket(url: str, bucket: str) -> None:
    """Create ``bucket`` at the S3 endpoint ``url`` (idempotent: an existing one of ours is kept)."""
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    existing = {entry["Name"] for entry in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)


def start_s3_server(port: int, bucket: str, *, log: Path | None = None) -> ManagedProcess:
    """moto's S3 server on 127.0.0.1:``port`` with ``bucket`` created; stopped again if that fails."""
    command = [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", str(port)]
    process = spawn("s3", command, log=log)
    try:
        wait_until(lambda: answers(endpoint(port)), START_TIMEOUT_SECONDS, "the S3 server to answer", process)
        create_bucket(endpoint(port), bucket)
    except BaseException:
        process.stop()
        raise
    return process
