"""``create_owner`` makes the first owner with every validator; the run banner names the demo only when it exists."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from annotator.management.commands.run_stack import sign_in_hint
from annotator.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERNAME

pytestmark = pytest.mark.django_db
User = get_user_model()


def create_owner(monkeypatch, password: str, *arguments: str) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    out = io.StringIO()
    call_command("create_owner", *arguments, "--password-stdin", stdout=out)
    return out.getvalue()


def test_creates_a_superuser_with_the_password_from_stdin(monkeypatch) -> None:
    out = create_owner(
        monkeypatch, "correct horse battery", "--username", "alice", "--email", "alice@example.org"
    )

    owner = User.objects.get()
    assert (owner.username, owner.email, owner.is_staff, owner.is_superuser) == (
        "alice",
        "alice@example.org",
        True,
        True,
    )
    assert owner.check_password("correct horse battery")
    assert "owner 'alice' created" in out


def test_reads_the_password_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("FACELOOP_OWNER_PASSWORD", "correct horse battery")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    call_command("create_owner", "--username", "alice", "--email", "a@example.org", stdout=io.StringIO())
    assert User.objects.get().check_password("correct horse battery")


@pytest.mark.parametrize(
    ("username", "email", "password", "message"),
    [
        ("alice", "a@example.org", "short", "This password is too short"),
        ("alice smith!", "a@example.org", "correct horse battery", "Enter a valid username"),
        ("alice", "not-an-address", "correct horse battery", "Enter a valid email address"),
    ],
)
def test_refuses_what_the_validators_refuse(monkeypatch, username, email, password, message) -> None:
    with pytest.raises(CommandError, match=message):
        create_owner(monkeypatch, password, "--username", username, "--email", email)
    assert not User.objects.exists()


def test_refuses_without_a_password_source_off_a_terminal(monkeypatch) -> None:
    monkeypatch.delenv("FACELOOP_OWNER_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="no password"):
        call_command("create_owner", "--username", "alice", "--email", "a@example.org")
    assert not User.objects.exists()


def test_refuses_once_an_owner_exists(monkeypatch) -> None:
    User.objects.create_superuser("first", "first@example.org", "x")
    with pytest.raises(CommandError, match=r"an owner already exists \(first\)"):
        create_owner(monkeypatch, "correct horse battery", "--username", "alice", "--email", "a@example.org")
    assert list(User.objects.values_list("username", flat=True)) == ["first"]


def test_refuses_a_taken_username(monkeypatch) -> None:
    User.objects.create_user("alice", "a@example.org", "x")
    with pytest.raises(CommandError, match="the username 'alice' is taken"):
        create_owner(monkeypatch, "correct horse battery", "--username", "alice", "--email", "b@example.org")
    assert User.objects.count() == 1 and not User.objects.get().is_superuser


def test_banner_names_the_demo_login_only_while_the_demo_account_exists_with_its_password() -> None:
    assert sign_in_hint() == (
        "No account yet: create the first owner with "
        "`python manage.py create_owner --username NAME --email ADDRESS`"
    )
    demo = User.objects.create_user(DEMO_USERNAME, password=DEMO_PASSWORD)
    assert sign_in_hint() == "Sign in as demo / demo (the demo account)"

    demo.set_password("changed by its owner")
    demo.save()
    assert sign_in_hint() == "Sign in with your account"
    demo.delete()
    User.objects.create_superuser("alice", "a@example.org", "x")
    assert sign_in_hint() == "Sign in with your account"
