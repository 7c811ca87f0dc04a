"""Accounts: the user model of the whole forum, and sign-ups waiting for their email link."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(DjangoUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        # Usernames are unique regardless of case, so "Alice" names the account "alice" everywhere
        # (createsuperuser's duplicate check and the admin among them).
        return self.alias(username_lower=Lower("username")).get(username_lower=Lower(models.Value(username)))


class User(AbstractUser):
    """A member's account. Other apps keep foreign keys to it (the one cross-app relation allowed)."""

    email_verified = models.BooleanField(
        _("email verified"),
        default=False,
        help_text=_("Whether the member proved, by following a link we sent, that the address is theirs."),
    )

    objects: ClassVar[UserManager] = UserManager()

    class Meta:
        db_table = "authentication_user"
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="authentication_user_username_ci_unique",
                violation_error_message=_("A user with that username already exists."),
            ),
            # Accounts made by staff may have no address; every address that is given is unique.
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="authentication_user_email_ci_unique",
                violation_error_message=_("A user with that email address already exists."),
            ),
        ]


class PendingSignup(models.Model):
    """A sign-up whose address is not confirmed yet; it becomes a User when its link is followed.

    No account exists before that, so a sign-up gives away nothing about which addresses have accounts,
    and a username is not held by someone who cannot receive mail at the address they gave.
    """

    username = models.CharField(max_length=150)
    email = models.EmailField()
    password = models.CharField(max_length=128, help_text=_("The password's hash, never the password."))
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("pending sign-up")
        verbose_name_plural = _("pending sign-ups")
        indexes = [models.Index(Lower("email"), name="auth_pendingsignup_email_ci")]

    def __str__(self) -> str:
        return f"{self.username} <{self.email}>"
