"""Django admin of the user app: profiles, for moderators to clear what should not be shown.

Profiles are not edited here field by field: the HTML is rendered from the Markdown by the services,
so the actions below go through them (and the avatar's files are deleted after the change commits).
Members are named in lists and messages, never numbered.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.user.models import Follow, Profile
from apps.user.services import avatar_remove, profile_update


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "website", "location", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    readonly_fields = [
        "user",
        "bio",
        "signature",
        "website",
        "location",
        "avatar_key",
        "avatar_thumbnail_key",
        "updated_at",
    ]
    exclude = ["bio_html", "signature_html"]
    actions = ["clear_avatar", "clear_texts"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by the member's first change

    @admin.action(description=_("Remove the avatar"))
    def clear_avatar(self, request: HttpRequest, queryset: QuerySet[Profile]) -> None:
        names = []
        for user_id, username in queryset.order_by("user__username").values_list("user_id", "user__username"):
            avatar_remove(user_id=user_id)
            names.append(username)
        messages.success(
            request,
            ngettext("Avatar removed: %(members)s.", "Avatars removed: %(members)s.", len(names))
            % {"members": ", ".join(names)},
        )

    @admin.action(description=_("Clear the bio, signature and website"))
    def clear_texts(self, request: HttpRequest, queryset: QuerySet[Profile]) -> None:
        names = []
        for user_id, username in queryset.order_by("user__username").values_list("user_id", "user__username"):
            profile_update(user_id=user_id, bio="", signature="", website="", location="")
            names.append(username)
        messages.success(
            request,
            ngettext("Texts cleared for %(members)s.", "Texts cleared for %(members)s.", len(names))
            % {"members": ", ".join(names)},
        )


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["follower", "target", "created_at"]
    list_select_related = ["follower", "target"]
    search_fields = ["follower__username", "target__username"]
    readonly_fields = ["follower", "target", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members follow from the profile page or the API
