"""Accounts: the user model of the whole forum."""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A member's account. Other apps keep foreign keys to it (the one cross-app relation allowed)."""

    class Meta:
        db_table = "authentication_user"
