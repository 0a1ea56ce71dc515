"""Failed sign-ins lock out an account and an address (django-axes); tokens, votes and imports are rate-limited.

Before, 40 wrong passwords in a row got 40 answers of 400 (or 40 sign-in pages), and nothing
limited how fast a client fetched tokens, voted or started imports.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from annotator import processes
from annotator.celery import app as celery_app
from annotator.models import Vote
from tests.annotator.factories import add_annotator, make_labeling_project, make_project

pytestmark = pytest.mark.django_db

PASSWORD = "cobalt-heron-quarry-41"
LOCKED = (
    "Too many failed sign-ins for this account or from this address: signing in is blocked for "
    "15 minutes. Try again later, or ask an administrator."
)
ATTEMPTS = 40
LIMIT = 5


@pytest.fixture(autouse=True)
def generous_token_rate(settings) -> None:
    """The lockout tests make 40 requests a minute: the token throttle stays out of their way."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}),
            "token": "1000/minute",
        },
    }


@pytest.fixture
def ann():
    return get_user_model().objects.create_user("ann", password=PASSWORD)


def token(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post("/api/auth/token/", {"username": username, "password": password}, REMOTE_ADDR=address)


def sign_in(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_forty_wrong_passwords_lock_the_token_endpoint_until_the_cool_off_ends(ann, settings) -> None:
    client = Client()

    answers = [token(client, "ann", f"wrong-{n}") for n in range(ATTEMPTS)]

    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert [answer.status_code for answer in answers] == [400] * (LIMIT - 1) + [429] * (ATTEMPTS - LIMIT + 1)
    assert answers[-1].json() == {"code": "locked_out", "detail": LOCKED}
    assert answers[-1]["Retry-After"] == "900"
    right = token(client, "ann", PASSWORD)
    assert right.status_code == 429 and "token" not in right.json()

    from axes.models import (
        AccessAttempt,
    )  # here, so the test fails on its answers where axes is not installed

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    after_cool_off = token(client, "ann", PASSWORD)
    assert after_cool_off.status_code == 200 and len(after_cool_off.json()["token"]) == 40


def test_forty_wrong_passwords_lock_the_sign_in_page(ann) -> None:
    client = Client()

    pages = [sign_in(client, "ann", f"wrong-{n}") for n in range(ATTEMPTS)]

    assert [page.status_code for page in pages] == [200] * (LIMIT - 1) + [429] * (ATTEMPTS - LIMIT + 1)
    assert "didn't match" in pages[0].content.decode()
    assert LOCKED in pages[-1].content.decode() and "didn't match" not in pages[-1].content.decode()
    right = sign_in(client, "ann", PASSWORD)
    assert right.status_code == 429 and LOCKED in right.content.decode()
    assert "_auth_user_id" not in client.session


def test_one_address_trying_many_accounts_is_locked_out_and_others_are_not(ann) -> None:
    client = Client()
    guesses = [token(client, f"guess{n}", "wrong", address="10.0.0.66").status_code for n in range(LIMIT)]
    assert guesses == [400] * (LIMIT - 1) + [429]

    assert token(client, "ann", PASSWORD, address="10.0.0.66").status_code == 429
    assert token(client, "ann", PASSWORD, address="10.0.0.7").status_code == 200


def test_one_account_guessed_from_many_addresses_is_locked_out(ann) -> None:
    client = Client()
    for n in range(LIMIT):
        token(client, "ann", "wrong", address=f"10.0.1.{n}")

    assert token(client, "ann", PASSWORD, address="10.0.2.1").status_code == 429
    assert get_user_model().objects.create_user("bob", password=PASSWORD)
    assert token(client, "bob", PASSWORD, address="10.0.2.1").status_code == 200


def rates(settings, **scopes: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}), **scopes},
    }


def test_the_token_endpoint_is_throttled_per_address(ann, settings) -> None:
    rates(settings, token="3/minute")
    client = Client()

    answers = [token(client, "ann", PASSWORD).status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]
    assert token(client, "ann", PASSWORD, address="10.0.0.2").status_code == 200


def test_votes_are_throttled_past_their_rate_even_with_redis_down(client_for, settings) -> None:
    dead_url = f"redis://127.0.0.1:{processes.free_port()}/0"
    settings.REDIS_URL = dead_url
    previous, celery_app.conf.broker_url = celery_app.conf.broker_url, dead_url
    try:
        rates(settings, votes="3/minute")
        project = make_labeling_project(votes_per_face=1, budget_votes=40)
        annotator = client_for(add_annotator(project).user)
        faces = annotator.post(f"/api/projects/{project.pk}/next-faces/", {"count": 4}, format="json").json()
        answers = [
            annotator.post(
                f"/api/projects/{project.pk}/votes/",
                {"client_id": str(uuid.uuid4()), "face": face["face"], "kind": "label", "classes": [0]},
                format="json",
            )
            for face in faces
        ]
    finally:
        celery_app.conf.broker_url = previous

    assert [answer.status_code for answer in answers] == [201, 201, 201, 429]
    assert answers[-1].json()["detail"].startswith("Request was throttled.")
    assert int(answers[-1]["Retry-After"]) > 0
    assert Vote.objects.filter(project=project).count() == 3
    assert annotator.get(f"/api/projects/{project.pk}/votes/").status_code == 200  # reads are not limited


def test_imports_are_throttled_past_their_rate(client_for, settings) -> None:
    rates(settings, imports="2/hour")
    project = make_project()
    owner = client_for(project.owner)

    answers = [owner.post(f"/api/projects/{project.pk}/imports/job/").status_code for _ in range(3)]

    assert answers == [201, 201, 429]
