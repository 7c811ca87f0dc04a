"""Forms of the dialog pages: they check the shape of the input; the services decide the rest."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from apps.dialog.models import BODY_MAX_LENGTH, TITLE_MAX_LENGTH
from forum.errors import ApplicationError

USERNAMES_MAX = 100


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (Django's documented recipe); the kernel checks each one."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile[bytes]]:
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


def _files() -> MultipleFileField:
    return MultipleFileField(
        label=_("Attachments"), required=False, help_text=_("Images and files, several at once.")
    )


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
    attachments = _files()


class MessageForm(forms.Form):
    body = _body()
    attachments = _files()


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


def add_application_error(
    form: forms.Form, error: ApplicationError, *, field_map: dict[str, str] | None = None
) -> None:
    """Show a service's refusal on the form: each field's messages beside it, the rest on top."""
    shown = False
    for field, messages in error.fields.items():
        name = (field_map or {}).get(field, field)
        if name in form.fields:
            for message in messages:
                form.add_error(name, message)
            shown = True
    if not shown:
        form.add_error(None, error.message)


def page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or "1"), 1_000_000))
    except ValueError:
        return 1


def message_cursor(raw: str | None) -> int | None:
    """A ``before``/``after`` message id from the query string; None for anything else."""
    if raw is None or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)
