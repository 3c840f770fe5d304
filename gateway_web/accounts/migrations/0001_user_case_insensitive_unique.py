"""Usernames and emails are unique regardless of case, enforced by the database (two concurrent
sign-ups as "Bob" and "bob" cannot both commit), on Django's own auth_user table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunSQL(
            sql=[
                "CREATE UNIQUE INDEX accounts_user_username_ci ON auth_user (UPPER(username));",
                "CREATE UNIQUE INDEX accounts_user_email_ci ON auth_user (UPPER(email)) WHERE email <> '';",
            ],
            reverse_sql=[
                "DROP INDEX IF EXISTS accounts_user_username_ci;",
                "DROP INDEX IF EXISTS accounts_user_email_ci;",
            ],
        )
    ]
