"""Forms of the dialog pages: they check the shape of the input; the services decide the rest."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.dialog import services
from apps.dialog.models import BODY_MAX_LENGTH, TITLE_MAX_LENGTH
from forum.forms import attachment_ids_field, attachments_field

USERNAMES_MAX = 100


def _body(required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=_("Message"),
        max_length=BODY_MAX_LENGTH,
        required=required,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Markdown, as in posts."),
    )


def usernames_in(text: str) -> list[str]:
    """The usernames of a list typed by a member: separated by commas or spaces, an @ in front allowed,
    each once."""
    names = [name.lstrip("@") for name in re.split(r"[\s,;]+", text or "") if name.lstrip("@")]
    return list(dict.fromkeys(names))


class UsernamesField(forms.CharField):
    """Usernames separated by commas or spaces (an @ in front is allowed)."""

    def clean(self, value: Any) -> list[str]:
        names = usernames_in(super().clean(value))
        if len(names) > USERNAMES_MAX:
            raise forms.ValidationError(
                ngettext(
                    "At most %(count)d member at once.", "At most %(count)d members at once.", USERNAMES_MAX
                )
                % {"count": USERNAMES_MAX}
            )
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
    attachment_ids = attachment_ids_field()


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


class DialogSettingsForm(forms.Form):
    """The member's dialog settings: checkboxes, so a submission says every one of them."""

    followed_only = forms.BooleanField(
        label=_("Only the members I follow (and staff) may start dialogs with me"), required=False
    )
    enter_sends = forms.BooleanField(
        label=_("Enter sends a message (Shift+Enter starts a new line)"),
        required=False,
        widget=forms.CheckboxInput(attrs={"aria-describedby": "id_enter_sends-hint"}),
        help_text=_("Otherwise Enter starts a new line and Ctrl+Enter sends."),
    )
    # The page the form was on (the dialog list or the account settings), to go back to.
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    @classmethod
    def of_member(cls, member_id: int, *, next_url: str) -> DialogSettingsForm:
        """The member's settings as they are (the dialog list and the account settings show them)."""
        found = services.dialog_settings_get(user_id=member_id)
        return cls(
            initial={"followed_only": found.followed_only, "enter_sends": found.enter_sends, "next": next_url}
        )


def message_cursor(raw: str | None) -> int | None:
    """A ``before``/``after`` message id from the query string; None for anything else."""
    if raw is None or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)
