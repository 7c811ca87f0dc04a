"""Reads of the authentication app: accounts by id, name or address, always ignoring case."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Value
from django.db.models.functions import Lower

from apps.authentication.models import User

__all__ = [
    "user_by_email",
    "user_by_login",
    "user_by_username",
    "user_get",
]


def user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()


def user_by_username(*, username: str) -> User | None:
    # Lower() on both sides, in the database: it matches the unique index and PostgreSQL's own casing.
    return (
        User.objects.alias(username_lower=Lower("username"))
        .filter(username_lower=Lower(Value(username)))
        .first()
    )


def user_by_email(*, email: str, exclude_user_id: int | None = None) -> User | None:
    if not email:
        return None
    users = User.objects.alias(email_lower=Lower("email")).filter(email_lower=Lower(Value(email)))
    if exclude_user_id is not None:
        users = users.exclude(pk=exclude_user_id)
    return users.first()


def user_by_login(*, login: str) -> User | None:
    """The account a sign-in names: by username, else (when it looks like one) by email address.

    New usernames may not contain "@", so an address never names someone else's account by username.
    """
    user = user_by_username(username=login)
    if user is None and "@" in login:
        user = user_by_email(email=login)
    return user


def user_row_by_id(*, user_id: int) -> tuple[tuple[str, ...], tuple[Any, ...]] | None:
    """The account with this id as its fields' names and values, every field, in plain SQL (the
    session's user on every request, kept as such in Redis: ``user_from_row`` makes the account)."""
    concrete = User._meta.concrete_fields
    fields = tuple(field.attname for field in concrete)
    columns = ", ".join(f'"{field.column}"' for field in concrete)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {columns} FROM "{User._meta.db_table}" WHERE "id" = %s', [user_id])
        row = cursor.fetchone()
    return None if row is None else (fields, tuple(row))


def user_from_row(row: tuple[tuple[str, ...], tuple[Any, ...]]) -> User:
    """The account of ``user_row_by_id``'s answer (a field the model gained since is loaded when used)."""
    fields, values = row
    return User.from_db(connection.alias, list(fields), values)


def user_by_id(*, user_id: int) -> User | None:
    """The account with this id, every field, in plain SQL."""
    row = user_row_by_id(user_id=user_id)
    return None if row is None else user_from_row(row)
