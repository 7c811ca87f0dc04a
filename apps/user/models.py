"""Tables of the user app: a member's public profile, beside the shared account of the user model.

The account itself (username, join date) belongs to the authentication app's user model, which every
app may reference; the profile holds what a member writes about themselves and their avatar.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

BIO_MAX_LENGTH = 5_000
SIGNATURE_MAX_LENGTH = 500
WEBSITE_MAX_LENGTH = 200
LOCATION_MAX_LENGTH = 100


class Profile(models.Model):
    """Made the first time a member saves something; a member without a row has an empty profile.

    Markdown sources are rendered once, when saved (forum.markup.render), and the HTML is stored
    beside them: reading never renders.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    bio = models.TextField(_("about me"), blank=True, max_length=BIO_MAX_LENGTH)
    bio_html = models.TextField(blank=True)
    signature = models.TextField(_("signature"), blank=True, max_length=SIGNATURE_MAX_LENGTH)
    signature_html = models.TextField(blank=True)
    website = models.URLField(_("website"), blank=True, max_length=WEBSITE_MAX_LENGTH)
    location = models.CharField(_("location"), blank=True, max_length=LOCATION_MAX_LENGTH)
    # Storage keys (forum.uploads): the stored image and its WebP thumbnail, which is what is shown.
    avatar_key = models.CharField(max_length=255, blank=True)
    avatar_thumbnail_key = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return str(_("profile of %(member)s")) % {"member": self.user.username}


class Follow(models.Model):
    """``follower`` follows ``target``: their activity interests them, and a member who lets only the
    people they follow start dialogs with them lets this one in (the dialog app asks ``follows``)."""

    follower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("follow")
        verbose_name_plural = _("follows")
        constraints = [
            models.UniqueConstraint(fields=["follower", "target"], name="follow_follower_target"),
            models.CheckConstraint(condition=~models.Q(follower=models.F("target")), name="follow_not_self"),
        ]
        indexes = [models.Index(fields=["target", "follower"], name="follow_target_follower")]

    def __str__(self) -> str:
        return str(_("%(member)s follows %(target)s")) % {
            "member": self.follower.username,
            "target": self.target.username,
        }
