"""Sentences that the pages and the API both say after a request, so that both say the same."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.authentication.services import EMAIL_LINK_MAX_AGE


def signup_sent(*, email: str) -> str:
    # The same whether or not the address has an account: its owner learns that from the mail.
    days = EMAIL_LINK_MAX_AGE.days
    return ngettext(
        "We sent a link to %(email)s. Follow it within %(days)s day to finish signing up.",
        "We sent a link to %(email)s. Follow it within %(days)s days to finish signing up.",
        days,
    ) % {"email": email.strip(), "days": days}


def password_reset_sent() -> str:
    days = max(1, int(settings.PASSWORD_RESET_TIMEOUT) // 86400)
    return ngettext(
        "If an account has this address, we sent it a link to choose a new password. "
        "The link works for %(days)s day.",
        "If an account has this address, we sent it a link to choose a new password. "
        "The link works for %(days)s days.",
        days,
    ) % {"days": days}


def email_change_sent(*, email: str) -> str:
    return _("We sent a link to %(email)s. Your address changes when you follow it.") % {
        "email": email.strip()
    }


def email_verification_sent() -> str:
    return _("We sent you a new link. Follow it to confirm your address.")
