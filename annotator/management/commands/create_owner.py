"""``manage.py create_owner``: the first account of a new install, with the admin's rights.

A production install starts with no account (the image seeds no demo). This creates the
first one: a superuser, who can create projects, invite people and open ``/admin/``. It runs
the same checks as every other account: the user model's username validators, an e-mail
address, and ``AUTH_PASSWORD_VALIDATORS`` (the password is never an argument, so it stays out
of the shell history and the process list: it is asked for twice on a terminal, or read from
``FACELOOP_OWNER_PASSWORD`` or one line of standard input for scripts).

It refuses once a superuser exists: it makes the *first* owner. Later accounts come through
invitations, or from an existing superuser in the admin.

    python manage.py create_owner --username alice --email alice@example.org
    printf '%s\\n' "$PASSWORD" | python manage.py create_owner --username alice --email a@b.org --password-stdin
"""

from __future__ import annotations

import getpass
import os
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

PASSWORD_VARIABLE = "FACELOOP_OWNER_PASSWORD"


class Command(BaseCommand):
    help = "Create the first owner (a superuser); refuses once a superuser exists."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from one line of standard input"
        )

    def handle(
        self, *args: object, username: str, email: str, password_stdin: bool, **options: object
    ) -> None:
        users = get_user_model().objects
        existing = list(users.filter(is_superuser=True).values_list("username", flat=True)[:3])
        if existing:
            raise CommandError(
                f"an owner already exists ({', '.join(existing)}); create_owner makes only the first one: "
                "invite people from a project, or add accounts in /admin/"
            )
        user = get_user_model()(username=username, email=email, is_staff=True, is_superuser=True)
        self._validate(user)
        password = self._password(password_stdin)
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError("the password is refused: " + " ".join(error.messages)) from error
        user.set_password(password)
        with transaction.atomic():
            if users.filter(is_superuser=True).exists():
                raise CommandError("an owner was created meanwhile; nothing done")
            user.save()
        self.stdout.write(self.style.SUCCESS(f"owner {username!r} created; sign in at /accounts/login/"))

    def _validate(self, user) -> None:
        """The username field's own validators (characters, length), uniqueness, and the e-mail."""
        try:
            user.clean_fields(exclude=["password", "last_login", "date_joined"])
            validate_email(user.email)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        if get_user_model().objects.filter(username=user.username).exists():
            raise CommandError(f"the username {user.username!r} is taken")

    def _password(self, from_stdin: bool) -> str:
        if from_stdin:
            return sys.stdin.readline().rstrip("\n")
        if os.environ.get(PASSWORD_VARIABLE):
            return os.environ[PASSWORD_VARIABLE]
        if not sys.stdin.isatty():
            raise CommandError(
                f"no password: pass --password-stdin, set {PASSWORD_VARIABLE}, or run on a terminal"
            )
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("the two passwords differ")
        return password
