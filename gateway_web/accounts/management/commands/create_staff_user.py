"""``manage.py create_staff_user --username ops --email ops@example.com`` (password from
``--password``, the ``STAFF_PASSWORD`` environment variable, or a prompt). Staff see
/staff/reconciliation; the ``is_staff`` claim in their tokens is what the ledger checks.
An existing user of that name is made staff and given the new password."""

from __future__ import annotations

import getpass
import os

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction


class Command(BaseCommand):
    help = "Create (or promote) a staff user who can open the reconciliation page."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--password", default=None)

    @transaction.atomic
    def handle(self, *, username: str, email: str, password: str | None, **options):
        password = password or os.environ.get("STAFF_PASSWORD") or getpass.getpass("Password: ")
        User = get_user_model()
        user = User.objects.filter(username__iexact=username).first() or User(username=username)
        user.email = email or user.email or f"{username}@localhost"
        try:
            validate_password(password, user=user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        user.set_password(password)
        user.is_staff = True
        user.save()
        self.stdout.write(f"staff user {user.username} (id {user.id}) ready")
