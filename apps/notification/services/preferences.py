"""A member's choices: their settings (auto-watch, emails, language) and each kind's channels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from apps.notification import kinds as registry
from apps.notification import selectors
from apps.notification.models import MemberSettings, Preference
from apps.notification.services._common import _EMAIL_VALUES, _languages
from apps.notification.services.data import KindPreference, MemberPreferences
from forum.errors import ValidationFailed


def preferences_get(*, user_id: int) -> MemberPreferences:
    """The member's settings and, for every kind, their channels (their choice or the default)."""
    member = selectors.settings_of(user_id=user_id)
    kinds = registry.registered()
    stored = selectors.preference_rows(user_ids=[user_id], kinds=[kind.code for kind in kinds])
    choices = []
    for kind in kinds:
        site, email = stored.get((user_id, kind.code), (kind.default_site, str(kind.default_email)))
        choices.append(
            KindPreference(
                kind=kind.code,
                label=str(kind.label),
                site=site,
                email=email,
                default_site=kind.default_site,
                default_email=str(kind.default_email),
            )
        )
    return MemberPreferences(
        auto_watch=member.auto_watch if member else True,
        email_enabled=member.email_enabled if member else True,
        language=member.language if member else "",
        kinds=tuple(choices),
    )


def preferences_update(
    *,
    user_id: int,
    auto_watch: bool | None = None,
    email_enabled: bool | None = None,
    language: str | None = None,
    kinds: Mapping[str, Mapping[str, Any]] | None = None,
) -> MemberPreferences:
    """Change what is given: the settings, and per kind ``{"site": bool, "email": "immediate" |
    "digest" | "off"}`` (either key may be left out). Unknown kinds or values refuse the whole change."""
    problems: dict[str, list[str]] = {}
    if language is not None and language and language not in _languages():
        problems["language"] = [_("Choose one of the forum's languages.")]
    changes: dict[str, tuple[bool | None, str | None]] = {}
    for code, choice in (kinds or {}).items():
        if registry.get(code) is None:
            problems[f"kinds.{code}"] = [_("There is no such kind of notification.")]
            continue
        site = choice.get("site")
        email = choice.get("email")
        if site is not None and not isinstance(site, bool):
            problems[f"kinds.{code}.site"] = [_("Say yes or no.")]
        if email is not None and email not in _EMAIL_VALUES:
            problems[f"kinds.{code}.email"] = [_("Choose immediately, daily digest or never.")]
        changes[code] = (site, email)
    if problems:
        raise ValidationFailed(_("Some choices are not valid."), fields=problems)
    with transaction.atomic():
        member, _created = MemberSettings.objects.select_for_update().get_or_create(user_id=user_id)
        if auto_watch is not None:
            member.auto_watch = auto_watch
        if email_enabled is not None:
            member.email_enabled = email_enabled
        if language is not None:
            member.language = language
        member.save()
        current = {choice.kind: choice for choice in preferences_get(user_id=user_id).kinds}
        for code, (site, email) in changes.items():
            Preference.objects.update_or_create(
                user_id=user_id,
                kind=code,
                defaults={
                    "site": current[code].site if site is None else site,
                    "email": current[code].email if email is None else email,
                },
            )
    return preferences_get(user_id=user_id)


def member_settings_create(*, user_id: int) -> None:
    """A new account gets its settings row (with the defaults), so that support finds every member."""
    MemberSettings.objects.get_or_create(user_id=user_id)
