"""Annotator test fixtures: API clients that log in as a given user, fast password hashing."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def client_for():
    """``client_for(user)``: an API client authenticated as ``user``."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing costs ~0.3 s per user on this machine; tests do not need its strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
