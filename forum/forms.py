"""What every app's page forms share: a service's refusal shown on the form, and the attachments field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from forum.errors import ApplicationError

__all__ = [
    "MultipleFileField",
    "UploadIdsField",
    "add_application_error",
    "attachment_ids_field",
    "attachments_field",
]


def add_application_error(
    form: forms.Form, error: ApplicationError, *, field_map: Mapping[str, str] | None = None
) -> None:
    """Show a service's refusal on the form: each field's messages beside it, the rest on top.
    ``field_map`` names the form's field for a service's field when they differ."""
    shown = False
    for field, messages in error.fields.items():
        name = (field_map or {}).get(field, field)
        if name in form.fields:
            for message in messages:
                form.add_error(name, message)
            shown = True
    if not shown:
        form.add_error(None, error.message)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (Django's documented recipe); forum.uploads checks each one."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile[bytes]]:
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


def attachments_field(label: Any = None) -> MultipleFileField:
    """The optional attachments of a post or a message."""
    return MultipleFileField(
        label=label or _("Attachments"), required=False, help_text=_("Images and files, several at once.")
    )


# More ids than any attachment limit: the services refuse past the member's own limit with its message.
UPLOAD_IDS_MAX = 100


class UploadIdsField(forms.Field):
    """Ids of uploads made beforehand through the API (the composer's drag and drop), one hidden input
    each under one name; without JavaScript there are none. Only the shape is checked here: whether
    each is the member's own waiting upload is the service's to decide."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        items = value if isinstance(value, list | tuple) else [value]
        if len(items) > UPLOAD_IDS_MAX:
            raise forms.ValidationError(_("Too many attachments."), code="too_many")
        ids: list[int] = []
        for item in items:
            text = str(item).strip()
            if not text.isdigit() or len(text) > 18 or int(text) == 0:
                raise forms.ValidationError(
                    _("An attachment could not be read; upload it again."), code="invalid"
                )
            ids.append(int(text))
        return list(dict.fromkeys(ids))


def attachment_ids_field() -> UploadIdsField:
    """The uploads a form's composer made beforehand (hidden inputs named ``attachment_ids``)."""
    return UploadIdsField(required=False)
