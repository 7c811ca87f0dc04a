"""Accounts in the Django admin: members with their address's state, and sign-ups waiting for a link."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from apps.authentication.events import AccountChanged
from apps.authentication.models import PendingSignup, User
from forum.bus import publish
from forum.realtime import disconnect_user

# What other apps show or search of an account (the member's search document, lists of names): a
# change of one of them in the admin is published as AccountChanged.
SHOWN_FIELDS = ("username", "first_name", "last_name", "is_active")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    list_display = (
        "username",
        "email",
        "email_verified",
        "is_active",
        "is_staff",
        "date_joined",
        "last_login",
    )
    list_filter = ("is_staff", "is_superuser", "is_active", "email_verified", "groups")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email", "email_verified")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )

    def save_model(self, request: HttpRequest, obj: User, form: ModelForm[User], change: bool) -> None:
        """A new name, full name or a deactivation (closing the account) reaches the other apps as an
        event in the admin's transaction (the change and add views run in one)."""
        super().save_model(request, obj, form, change)
        fields = tuple(name for name in SHOWN_FIELDS if name in form.changed_data) if change else ("created",)
        if fields:
            publish(AccountChanged(user_id=obj.pk, fields=fields))

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        user_id = obj.pk
        with transaction.atomic():
            super().delete_model(request, obj)
            publish(AccountChanged(user_id=user_id, fields=("deleted",)))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        with transaction.atomic():
            user_ids = list(queryset.values_list("pk", flat=True))
            super().delete_queryset(request, queryset)
            for user_id in user_ids:
                publish(AccountChanged(user_id=user_id, fields=("deleted",)))

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        """A password set by staff ends the member's sign-ins as the member's own change does: their
        sessions and tokens by the stale password stamp, their open sockets here."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and isinstance(response, HttpResponseRedirect):
            user = self.get_object(request, id)
            if user is not None:
                disconnect_user(user.pk)
        return response


@admin.register(PendingSignup)
class PendingSignupAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: support can see whether a sign-up is waiting for its link, and delete it."""

    list_display = ("username", "email", "created_at")
    search_fields = ("username", "email")
    ordering = ("-created_at",)
    exclude = ("password",)
    readonly_fields = ("username", "email", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
