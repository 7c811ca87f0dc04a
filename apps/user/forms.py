"""Forms of the profile pages: what a member may change of their own profile, and their avatar."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.user.models import BIO_MAX_LENGTH, LOCATION_MAX_LENGTH, SIGNATURE_MAX_LENGTH, WEBSITE_MAX_LENGTH


class ProfileForm(forms.Form):
    # Checked here for the message beside the field, and again by the services (the API's way in).
    bio = forms.CharField(
        label=_("About me"),
        required=False,
        max_length=BIO_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Markdown, as in posts."),
    )
    signature = forms.CharField(
        label=_("Signature"),
        required=False,
        max_length=SIGNATURE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    website = forms.CharField(
        label=_("Website"),
        required=False,
        max_length=WEBSITE_MAX_LENGTH,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    location = forms.CharField(label=_("Location"), required=False, max_length=LOCATION_MAX_LENGTH)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Formatted per request, in the reader's language (a lazy text formatted at import would not be).
        self.fields["signature"].help_text = ngettext(
            "Shown under your posts. Markdown, at most %(limit)d character.",
            "Shown under your posts. Markdown, at most %(limit)d characters.",
            SIGNATURE_MAX_LENGTH,
        ) % {"limit": SIGNATURE_MAX_LENGTH}


class AvatarForm(forms.Form):
    avatar = forms.FileField(
        label=_("New avatar"),
        help_text=_("A JPEG, PNG, GIF or WebP image of at most 2 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}),
    )
