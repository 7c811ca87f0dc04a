"""Published interface of the user app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service. ``users_brief`` is
that call already: ``POST /internal/v1/users/lookup`` (apps/user/api/internal.py) serves it to services
outside this process, signed as forum/internal_auth.py describes.

Follows: ``follow``, ``unfollow``, ``follows`` and ``following_ids`` (the dialog app lets a member accept
dialogs only from the people they follow).

Profiles: ``profiles_for`` gives a page of authors' cards (name, avatar, signature, badges, join
date, the frame worn: the frame app's ``equipped_frames_for``) at once; ``member_profile`` the
whole public profile; ``profile_update``, ``avatar_set`` and
``avatar_remove`` change a member's own. A member's threads, posts and counters belong to the thread
app, which already calls this app (``users_brief``), so this app may not call it back (no cycles
between apps): the thread app hands this app a ``MemberActivitySource`` at start-up
(``member_activity_source_register``), and the profile pages show what that source answers for the
viewer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Protocol

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.frame.services import EquippedFrame, equipped_frames_for
from apps.status.services import status_badges_for, status_badges_kept
from apps.user.events import MemberFollowed
from apps.user.models import (
    BIO_MAX_LENGTH,
    LOCATION_MAX_LENGTH,
    SIGNATURE_MAX_LENGTH,
    WEBSITE_MAX_LENGTH,
    Follow,
)
from apps.user.selectors import (
    avatar_thumbnail_key,
    follow_exists,
    followed_ids,
    profile_for_update,
    profile_rows_by_ids,
    profile_source,
    user_rows_by_ids,
)
from forum import versioned_cache
from forum.bus import publish
from forum.errors import NotFound, ValidationFailed
from forum.markup import render
from forum.paging import Page
from forum.uploads import UploadPolicy, accept_upload, default_policy, delete_upload

__all__ = [
    "AVATAR_MAX_BYTES",
    "AVATAR_TYPES",
    "PAGES_SCOPE",
    "USERS_BRIEF_MAX",
    "ActivityItem",
    "ActivityPage",
    "Badge",
    "EquippedFrame",
    "MemberActivitySource",
    "MemberCounters",
    "MemberProfile",
    "ProfileCard",
    "ProfileSource",
    "UserBrief",
    "avatar_remove",
    "avatar_set",
    "avatar_storage_key",
    "avatar_version",
    "follow",
    "following_ids",
    "follows",
    "member_activity_source_register",
    "member_badges",
    "member_badges_for",
    "member_posts",
    "member_profile",
    "member_threads",
    "profile_source_get",
    "profile_update",
    "profiles_for",
    "unfollow",
    "user_brief",
    "users_brief",
]

# One lookup answers at most this many ids: a page of rows, never a whole table.
USERS_BRIEF_MAX = 500
# Ids outside PostgreSQL's bigint cannot name an account; filtering them keeps the query valid.
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class UserBrief:
    """What another app or service may know of any account: who it is and whether it is active."""

    id: int
    username: str
    is_active: bool
    date_joined: datetime


def users_brief(*, user_ids: Collection[int]) -> list[UserBrief]:
    """The accounts among ``user_ids``, in the order first asked, in one query; unknown ids are left out."""
    wanted = list(dict.fromkeys(user_id for user_id in user_ids if 0 < user_id <= _MAX_ID))
    if len(set(user_ids)) > USERS_BRIEF_MAX:
        raise ValidationFailed(
            ngettext(
                "Ask for at most %(count)d user at once.",
                "Ask for at most %(count)d users at once.",
                USERS_BRIEF_MAX,
            )
            % {"count": USERS_BRIEF_MAX},
            fields={"ids": [_("Too many ids.")]},
        )
    found = {row[0]: UserBrief(*row) for row in user_rows_by_ids(user_ids=wanted)}
    return [found[user_id] for user_id in wanted if user_id in found]


def user_brief(*, user_id: int) -> UserBrief:
    """One account; ``NotFound`` when no account has this id."""
    briefs = users_brief(user_ids=[user_id])
    if not briefs:
        raise NotFound(_("No user has this id."))
    return briefs[0]


# --- Profiles -----------------------------------------------------------------------------------------

AVATAR_MAX_BYTES = 2 * 1024 * 1024
AVATAR_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_WEBSITE_SCHEMES = ["http", "https"]


@dataclass(frozen=True)
class Badge:
    """A status the member holds now, as a badge: its code (for styling) and name (active language)."""

    code: str
    name: str


@dataclass(frozen=True)
class ProfileCard:
    """What a page of posts shows beside each author."""

    user_id: int
    username: str
    avatar_url: str  # empty: no avatar
    signature_html: str  # sanitized when saved; safe to show as is
    badges: tuple[Badge, ...]
    profile_url: str
    date_joined: datetime
    frame: EquippedFrame | None = None  # the frame they wear, drawn around the avatar


@dataclass(frozen=True)
class MemberCounters:
    post_count: int
    reaction_score: int


@dataclass(frozen=True)
class MemberProfile:
    """A member's public profile. ``counters`` is None while no activity source is registered."""

    user_id: int
    username: str
    is_active: bool
    date_joined: datetime
    bio_html: str
    signature_html: str
    website: str
    location: str
    avatar_url: str
    badges: tuple[Badge, ...]
    profile_url: str
    counters: MemberCounters | None
    frame: EquippedFrame | None = None  # the frame they wear, drawn around the avatar


@dataclass(frozen=True)
class ProfileSource:
    """A member's own profile as they wrote it, for their edit form."""

    user_id: int
    bio: str
    signature: str
    website: str
    location: str
    avatar_url: str


# The scope of what this app's pages keep (forum.versioned_cache): a profile, an avatar or an account
# changed moves it; so does every event the app publishes (``user.*``).
PAGES_SCOPE = "user"


def _avatar_url(user_id: int, thumbnail_key: str | None) -> str:
    if not thumbnail_key:
        return ""
    return reverse("user:avatar", kwargs={"user_id": user_id, "version": avatar_version(thumbnail_key)})


def avatar_version(thumbnail_key: str) -> str:
    """The random part of the key: it changes with every new avatar, so the URL can be cached."""
    return thumbnail_key.rsplit("/", 1)[-1].split(".", 1)[0]


def _profile_url(user_id: int) -> str:
    return reverse("user:profile", kwargs={"user_id": user_id})


def _wanted_ids(user_ids: Collection[int]) -> list[int]:
    wanted = list(dict.fromkeys(user_id for user_id in user_ids if 0 < user_id <= _MAX_ID))
    if len(wanted) > USERS_BRIEF_MAX:
        raise ValidationFailed(
            ngettext(
                "Ask for at most %(count)d user at once.",
                "Ask for at most %(count)d users at once.",
                USERS_BRIEF_MAX,
            )
            % {"count": USERS_BRIEF_MAX},
            fields={"ids": [_("Too many ids.")]},
        )
    return wanted


def _badges_for(user_ids: list[int]) -> dict[int, tuple[Badge, ...]]:
    """Badges of a page of members: one query for the whole page (the status app's)."""
    if not user_ids:
        return {}
    held = status_badges_for(user_ids=user_ids)
    return {
        user_id: tuple(Badge(code=badge.code, name=badge.name) for badge in held.get(user_id, ()))
        for user_id in user_ids
    }


def profiles_for(*, user_ids: Collection[int]) -> dict[int, ProfileCard]:
    """Cards of the accounts among ``user_ids`` (unknown ids are left out): one query for the
    accounts and profiles, one for the status badges of all of them, and one for the frames they wear
    (the frame app's ``equipped_frames_for``)."""
    wanted = _wanted_ids(user_ids)
    rows = profile_rows_by_ids(user_ids=wanted)
    found_ids = [int(row["pk"]) for row in rows]
    badges = _badges_for(found_ids)
    frames = equipped_frames_for(user_ids=found_ids)
    return {
        int(row["pk"]): ProfileCard(
            user_id=int(row["pk"]),
            username=str(row["username"]),
            avatar_url=_avatar_url(int(row["pk"]), row["profile__avatar_thumbnail_key"]),
            signature_html=str(row["profile__signature_html"] or ""),
            badges=badges.get(int(row["pk"]), ()),
            profile_url=_profile_url(int(row["pk"])),
            date_joined=row["date_joined"],
            frame=frames.get(int(row["pk"])),
        )
        for row in rows
    }


def member_badges(*, user_id: int) -> tuple[Badge, ...]:
    """The badges of the statuses the member holds now (kept as ``member_badges_for``; one query when
    not kept)."""
    return member_badges_for(user_ids=[user_id]).get(user_id, ())


def member_badges_for(*, user_ids: Collection[int]) -> dict[int, tuple[Badge, ...]]:
    """The badges of the statuses each member holds now, for a page of members (every asked id is a
    key): what a kept page's author cards fill in for each request. Kept by the status app
    (``status_badges_kept``) until a status event or the start or end of one of their grants; one
    query when not kept."""
    wanted = _wanted_ids(user_ids)
    held = status_badges_kept(user_ids=wanted) if wanted else {}
    return {
        user_id: tuple(Badge(code=badge.code, name=badge.name) for badge in held.get(user_id, ()))
        for user_id in wanted
    }


def member_profile(*, user_id: int, with_badges: bool = True) -> MemberProfile:
    """The public profile of an account; ``NotFound`` when no account has this id.

    ``with_badges=False`` leaves the badges out (one query fewer): for a profile kept while its badges,
    which a status's end changes without any event, are read for each request (``member_badges``)."""
    rows = profile_rows_by_ids(user_ids=_wanted_ids([user_id]))
    if not rows:
        raise NotFound(_("There is no such member."))
    row = rows[0]
    source = _activity_source
    return MemberProfile(
        user_id=user_id,
        username=str(row["username"]),
        is_active=bool(row["is_active"]),
        date_joined=row["date_joined"],
        bio_html=str(row["profile__bio_html"] or ""),
        signature_html=str(row["profile__signature_html"] or ""),
        website=str(row["profile__website"] or ""),
        location=str(row["profile__location"] or ""),
        avatar_url=_avatar_url(user_id, row["profile__avatar_thumbnail_key"]),
        badges=member_badges(user_id=user_id) if with_badges else (),
        profile_url=_profile_url(user_id),
        counters=source.member_counters(user_id=user_id) if source is not None else None,
        frame=equipped_frames_for(user_ids=[user_id]).get(user_id),
    )


def profile_source_get(*, user_id: int) -> ProfileSource:
    profile = profile_source(user_id=user_id)
    if profile is None:
        return ProfileSource(user_id=user_id, bio="", signature="", website="", location="", avatar_url="")
    return ProfileSource(
        user_id=user_id,
        bio=profile.bio,
        signature=profile.signature,
        website=profile.website,
        location=profile.location,
        avatar_url=_avatar_url(user_id, profile.avatar_thumbnail_key),
    )


def _too_long(field: str, limit: int) -> ValidationFailed:
    message = ngettext("At most %(limit)d character.", "At most %(limit)d characters.", limit) % {
        "limit": limit
    }
    return ValidationFailed(message, code="too_long", fields={field: [message]})


def website_clean(value: str) -> str:
    """An address starting with http:// or https://, or empty; anything else is refused."""
    value = value.strip()
    if not value:
        return ""
    message = _("Enter a web address starting with http:// or https://.")
    if len(value) > WEBSITE_MAX_LENGTH:
        raise _too_long("website", WEBSITE_MAX_LENGTH)
    try:
        URLValidator(schemes=_WEBSITE_SCHEMES)(value)
    except DjangoValidationError as error:
        raise ValidationFailed(message, code="invalid_website", fields={"website": [message]}) from error
    return value


def _rendered(field: str, source: str, limit: int) -> str:
    if len(source) > limit:
        raise _too_long(field, limit)
    # No mention or quote resolvers: a profile notifies nobody and quotes no post.
    return render(source, max_length=limit).html


def profile_update(
    *,
    user_id: int,
    bio: str | None = None,
    signature: str | None = None,
    website: str | None = None,
    location: str | None = None,
) -> ProfileSource:
    """Changes the fields given (None: left as is); the Markdown is rendered and stored with it."""
    changes: dict[str, Any] = {}
    if bio is not None:
        changes.update(bio=bio.strip(), bio_html=_rendered("bio", bio.strip(), BIO_MAX_LENGTH))
    if signature is not None:
        changes.update(
            signature=signature.strip(),
            signature_html=_rendered("signature", signature.strip(), SIGNATURE_MAX_LENGTH),
        )
    if website is not None:
        changes["website"] = website_clean(website)
    if location is not None:
        location = " ".join(location.split())
        if len(location) > LOCATION_MAX_LENGTH:
            raise _too_long("location", LOCATION_MAX_LENGTH)
        changes["location"] = location
    if changes:
        with transaction.atomic():
            profile = profile_for_update(user_id=user_id)
            for name, value in changes.items():
                setattr(profile, name, value)
            profile.save(update_fields=[*changes, "updated_at"])
            versioned_cache.changed(PAGES_SCOPE)
    return profile_source_get(user_id=user_id)


def avatar_policy() -> UploadPolicy:
    """Images only, at most 2 MB, under their own prefix, public media (served by the avatar view to
    anyone), so in the default storage rather than the attachments' private one."""
    return default_policy(
        max_bytes=AVATAR_MAX_BYTES, allowed_types=AVATAR_TYPES, prefix="avatars", public=True
    )


def avatar_set(*, user_id: int, file: UploadedFile[bytes] | IO[bytes], filename: str) -> str:
    """Stores a new avatar (its thumbnail is what is shown) and returns its URL; the old files are
    deleted once the change commits. Refuses what is not an image with ``ValidationFailed``."""
    accepted = accept_upload(file, filename=filename, policy=avatar_policy(), field_name="avatar")
    if not accepted.thumbnail_key:  # every accepted image has one; anything else is a policy mistake
        delete_upload(accepted.storage_key, public=True)
        message = _("The avatar must be an image.")
        raise ValidationFailed(message, code="file_type_not_allowed", fields={"avatar": [message]})
    try:
        with transaction.atomic():
            profile = profile_for_update(user_id=user_id)
            old = (profile.avatar_key, profile.avatar_thumbnail_key)
            profile.avatar_key = accepted.storage_key
            profile.avatar_thumbnail_key = accepted.thumbnail_key
            profile.save(update_fields=["avatar_key", "avatar_thumbnail_key", "updated_at"])
            transaction.on_commit(lambda: delete_upload(*old, public=True), robust=True)
            versioned_cache.changed(PAGES_SCOPE)
    except Exception:
        delete_upload(accepted.storage_key, accepted.thumbnail_key, public=True)  # no orphan files
        raise
    return _avatar_url(user_id, accepted.thumbnail_key)


def avatar_remove(*, user_id: int) -> None:
    """Removes the member's avatar, if any; the files go once the change commits."""
    with transaction.atomic():
        profile = profile_for_update(user_id=user_id)
        old = (profile.avatar_key, profile.avatar_thumbnail_key)
        if not any(old):
            return
        profile.avatar_key = profile.avatar_thumbnail_key = ""
        profile.save(update_fields=["avatar_key", "avatar_thumbnail_key", "updated_at"])
        transaction.on_commit(lambda: delete_upload(*old, public=True), robust=True)
        versioned_cache.changed(PAGES_SCOPE)


def avatar_storage_key(*, user_id: int) -> str:
    """The storage key of the avatar shown (the WebP thumbnail); ``NotFound`` when there is none."""
    key = avatar_thumbnail_key(user_id=user_id) if 0 < user_id <= _MAX_ID else ""
    if not key:
        raise NotFound(_("This member has no avatar."))
    return key


# --- A member's threads and posts, from the thread app ---------------------------------------------------


@dataclass(frozen=True)
class ActivityItem:
    """A thread a member started or a post they wrote, as the profile lists it."""

    id: int
    thread_id: int
    title: str  # the thread's title
    url: str  # the thread, or the post in it
    excerpt: str  # plain text (not escaped), a post's first words; empty for threads
    created_at: datetime


# A page of a member's threads or posts (the thread app fills it).
ActivityPage = Page[ActivityItem]


class MemberActivitySource(Protocol):
    """What the thread app answers about a member, registered from its AppConfig.ready().

    ``member_threads`` and ``member_posts`` list only what ``viewer_id`` may see (None: a guest):
    nothing in a forum the viewer may not read, no thread awaiting moderation or rejected unless the
    viewer wrote it or moderates, nothing deleted; newest first, a fixed number of queries per page.
    ``member_counters`` are public totals (posts not deleted in approved threads; reactions received).
    """

    def member_counters(self, *, user_id: int) -> MemberCounters: ...

    def member_threads(
        self, *, viewer_id: int | None, author_id: int, page: int, per_page: int
    ) -> ActivityPage: ...

    def member_posts(
        self, *, viewer_id: int | None, author_id: int, page: int, per_page: int
    ) -> ActivityPage: ...


_activity_source: MemberActivitySource | None = None


def member_activity_source_register(source: MemberActivitySource | None) -> MemberActivitySource | None:
    """Sets the source of members' threads, posts and counters (None: none); returns the previous one."""
    global _activity_source
    previous, _activity_source = _activity_source, source
    return previous


def member_threads(
    *, viewer_id: int | None, author_id: int, page: int = 1, per_page: int = 20
) -> ActivityPage | None:
    """The threads the member started that the viewer may see; None while no source is registered."""
    if _activity_source is None:
        return None
    return _activity_source.member_threads(
        viewer_id=viewer_id, author_id=author_id, page=max(1, page), per_page=per_page
    )


def member_posts(
    *, viewer_id: int | None, author_id: int, page: int = 1, per_page: int = 20
) -> ActivityPage | None:
    """The posts the member wrote that the viewer may see; None while no source is registered."""
    if _activity_source is None:
        return None
    return _activity_source.member_posts(
        viewer_id=viewer_id, author_id=author_id, page=max(1, page), per_page=per_page
    )


# --- Follows ------------------------------------------------------------------------------------------


def follow(*, user_id: int, target_id: int) -> bool:
    """``user_id`` follows ``target_id``; True when the follow is new (then ``user.followed`` is
    published), False when it stood already. ``NotFound`` for no such member, ``ValidationFailed``
    (``follow_self``) for oneself."""
    if target_id == user_id:
        message = _("You cannot follow yourself.")
        raise ValidationFailed(message, code="follow_self")
    if not 0 < target_id <= _MAX_ID or not user_rows_by_ids(user_ids=[target_id]):
        raise NotFound(_("There is no such member."))
    with transaction.atomic():
        _row, created = Follow.objects.get_or_create(
            follower_id=user_id, target_id=target_id, defaults={"created_at": timezone.now()}
        )
        if created:
            publish(MemberFollowed(follower_id=user_id, target_id=target_id))
    return created


def unfollow(*, user_id: int, target_id: int) -> bool:
    """Stop following; True when there was a follow to end."""
    if not 0 < target_id <= _MAX_ID:
        return False
    deleted, _kinds = Follow.objects.filter(follower_id=user_id, target_id=target_id).delete()
    return deleted > 0


def follows(*, user_id: int, target_id: int) -> bool:
    """Whether ``user_id`` follows ``target_id`` (one query)."""
    if not (0 < user_id <= _MAX_ID and 0 < target_id <= _MAX_ID):
        return False
    return follow_exists(follower_id=user_id, target_id=target_id)


def following_ids(*, user_id: int) -> tuple[int, ...]:
    """The ids of the members ``user_id`` follows, oldest follow first (one query)."""
    if not 0 < user_id <= _MAX_ID:
        return ()
    return followed_ids(follower_id=user_id)
