"""Forms of the thread pages: they check the shape of the input; the services decide the rest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.thread.models import BODY_MAX_LENGTH, BOOKMARK_NOTE_MAX_LENGTH, REASON_MAX_LENGTH, TITLE_MAX_LENGTH
from forum.forms import attachment_ids_field, attachments_field


class ThreadForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX_LENGTH)
    body = forms.CharField(label=_("Message"), max_length=BODY_MAX_LENGTH, widget=forms.Textarea)
    attachments = attachments_field()
    attachment_ids = attachment_ids_field()


class PostForm(forms.Form):
    body = forms.CharField(label=_("Message"), max_length=BODY_MAX_LENGTH, widget=forms.Textarea)


class ReplyForm(PostForm):
    attachments = attachments_field()
    attachment_ids = attachment_ids_field()


class PostEditForm(PostForm):
    """The edit page: the text, a checkbox per attachment to remove, and files to add."""

    remove_attachment_ids = forms.TypedMultipleChoiceField(
        label=_("Remove attachments"),
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Ticked files are deleted when the post is saved."),
    )
    attachments = attachments_field(_("Add attachments"))
    attachment_ids = attachment_ids_field()

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
