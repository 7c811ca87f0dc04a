"""Forms of the thread pages: they check the shape of the input; the services decide the rest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from apps.thread.models import BODY_MAX_LENGTH, BOOKMARK_NOTE_MAX_LENGTH, REASON_MAX_LENGTH, TITLE_MAX_LENGTH
from forum.errors import ApplicationError


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


class ThreadForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX_LENGTH)
    body = forms.CharField(label=_("Message"), max_length=BODY_MAX_LENGTH, widget=forms.Textarea)
    attachments = _files()


class PostForm(forms.Form):
    body = forms.CharField(label=_("Message"), max_length=BODY_MAX_LENGTH, widget=forms.Textarea)


class ReplyForm(PostForm):
    attachments = _files()


class PostEditForm(PostForm):
    """The edit page: the text, a checkbox per attachment to remove, and files to add."""

    remove_attachment_ids = forms.TypedMultipleChoiceField(
        label=_("Remove attachments"),
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Ticked files are deleted when the post is saved."),
    )
    attachments = MultipleFileField(
        label=_("Add attachments"), required=False, help_text=_("Images and files, several at once.")
    )

    def __init__(self, *args: Any, attachments: Sequence[tuple[int, str]] = (), **kwargs: Any) -> None:
        """``attachments``: the post's, as (id, label) pairs; without any, nothing to remove is shown."""
        super().__init__(*args, **kwargs)
        if attachments:
            field = self.fields["remove_attachment_ids"]
            assert isinstance(field, forms.TypedMultipleChoiceField)
            field.choices = list(attachments)
        else:
            del self.fields["remove_attachment_ids"]


class BookmarkForm(forms.Form):
    """The bookmark button (``action`` only) and the note form of the bookmarks page."""

    action = forms.ChoiceField(choices=[("add", "add"), ("remove", "remove")], required=False)
    note = forms.CharField(label=_("Note"), max_length=BOOKMARK_NOTE_MAX_LENGTH, required=False)

    def clean_action(self) -> str:
        return str(self.cleaned_data.get("action") or "add")


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=REASON_MAX_LENGTH)


def add_application_error(form: forms.Form, error: ApplicationError) -> None:
    """Show a service's refusal on the form: each field's messages beside it, the rest on top."""
    shown = False
    for field, messages in error.fields.items():
        if field in form.fields:
            for message in messages:
                form.add_error(field, message)
            shown = True
    if not shown:
        form.add_error(None, error.message)


def page_number(raw: str | None) -> int:
    """The ``page`` query parameter, 1 when missing or not a number."""
    try:
        return max(1, min(int(raw or "1"), 1_000_000))
    except ValueError:
        return 1
