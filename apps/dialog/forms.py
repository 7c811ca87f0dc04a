"""Forms of the dialog pages: they check the shape of the input; the services decide the rest."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.dialog.models import BODY_MAX_LENGTH, TITLE_MAX_LENGTH
from forum.forms import attachments_field

USERNAMES_MAX = 100


def _body(required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=_("Message"),
        max_length=BODY_MAX_LENGTH,
        required=required,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Markdown, as in posts."),
    )


class UsernamesField(forms.CharField):
    """Usernames separated by commas or spaces (an @ in front is allowed)."""

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value)
        names = [name.lstrip("@") for name in re.split(r"[\s,;]+", text or "") if name.lstrip("@")]
        names = list(dict.fromkeys(names))
        if len(names) > USERNAMES_MAX:
            raise forms.ValidationError(_("At most %(count)d members at once.") % {"count": USERNAMES_MAX})
        return names


class NewDialogForm(forms.Form):
    recipients = UsernamesField(
        label=_("To"),
        max_length=4000,
        help_text=_("Usernames, separated by commas. Several make a group."),
    )
    title = forms.CharField(
        label=_("Title"),
        max_length=TITLE_MAX_LENGTH,
        required=False,
        help_text=_("For a group; with a title, even one member makes a group."),
    )
    body = _body()
    attachments = attachments_field()


class MessageForm(forms.Form):
    body = _body()
    attachments = attachments_field()


class EditForm(forms.Form):
    body = _body()


class AddParticipantsForm(forms.Form):
    usernames = UsernamesField(
        label=_("Add members"), max_length=4000, help_text=_("Usernames, separated by commas.")
    )


class RenameForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX_LENGTH)


class BlockForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)


class PrivacyForm(forms.Form):
    followed_only = forms.BooleanField(
        label=_("Only the members I follow (and staff) may start dialogs with me"), required=False
    )


def message_cursor(raw: str | None) -> int | None:
    """A ``before``/``after`` message id from the query string; None for anything else."""
    if raw is None or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)
