"""Forms of the notification pages: a member's settings and their channels for every kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.notification.services import EmailChannel, MemberPreferences

EMAIL_CHOICES = [
    (EmailChannel.IMMEDIATE.value, _("Immediately")),
    (EmailChannel.DIGEST.value, _("In the daily digest")),
    (EmailChannel.OFF.value, _("Never")),
]


@dataclass(frozen=True)
class KindRow:
    """One line of the preferences table: a kind's label and its two fields."""

    code: str
    label: str
    site: forms.BoundField
    email: forms.BoundField


class PreferencesForm(forms.Form):
    auto_watch = forms.BooleanField(
        label=_("Watch threads I start or reply to"),
        required=False,
        help_text=_("You are told of new replies in them. Unwatching a thread keeps it unwatched."),
    )
    email_enabled = forms.BooleanField(
        label=_("Send me emails"),
        required=False,
        help_text=_("Turn it off to get no email at all, whatever the choices below say."),
    )
    language = forms.ChoiceField(label=_("Language of emails"), required=False)

    def __init__(self, *args: Any, preferences: MemberPreferences, default_language: str = "", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.preferences = preferences
        self.fields["language"].choices = [("", _("The forum's default")), *settings.LANGUAGES]
        self.initial.update(
            {
                "auto_watch": preferences.auto_watch,
                "email_enabled": preferences.email_enabled,
                # A member who never chose gets the language they read the page in, ready to save.
                "language": preferences.language or default_language,
            }
        )
        for choice in preferences.kinds:
            self.fields[f"site:{choice.kind}"] = forms.BooleanField(
                label=_("On the site"), required=False, initial=choice.site
            )
            self.fields[f"email:{choice.kind}"] = forms.ChoiceField(
                label=_("By email"), choices=EMAIL_CHOICES, initial=choice.email
            )

    def kind_rows(self) -> list[KindRow]:
        return [
            KindRow(
                code=choice.kind,
                label=choice.label,
                site=self[f"site:{choice.kind}"],
                email=self[f"email:{choice.kind}"],
            )
            for choice in self.preferences.kinds
        ]

    def changes(self) -> dict[str, Any]:
        """The cleaned form as the arguments of ``preferences_update``."""
        data = self.cleaned_data
        return {
            "auto_watch": data["auto_watch"],
            "email_enabled": data["email_enabled"],
            "language": data["language"],
            "kinds": {
                choice.kind: {"site": data[f"site:{choice.kind}"], "email": data[f"email:{choice.kind}"]}
                for choice in self.preferences.kinds
            },
        }
