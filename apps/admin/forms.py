"""Forms of the moderation app's pages: an act on a report's ticket."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.admin.models import REASON_MAX_LENGTH, BanKind
from apps.admin.ticket_acts import ACTIONS, BAN_DAYS

_MAX_ID = 2**63 - 1


class TicketActForm(forms.Form):
    """One act from a ticket's page; the fields an act does not use are ignored by it."""

    action = forms.ChoiceField(choices=[(action, action) for action in ACTIONS])
    reason = forms.CharField(required=False, max_length=REASON_MAX_LENGTH)
    resolve = forms.BooleanField(required=False)
    warning_type = forms.IntegerField(required=False, min_value=1, max_value=_MAX_ID)
    # The select of forums_for_move (the forums the staff member may move a thread to).
    forum = forms.IntegerField(label=_("Forum"), required=False, min_value=1, max_value=_MAX_ID)
    ban_kind = forms.ChoiceField(required=False, choices=[("", ""), *BanKind.choices])
    # Empty: permanent.
    ban_days = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("Permanent"))] + [(str(days), str(days)) for days in BAN_DAYS],
    )

    def act_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "action": data["action"],
            "reason": data["reason"],
            "resolve": data["resolve"],
            "warning_type_id": data["warning_type"],
            "forum_id": data["forum"],
            "ban_kind": data["ban_kind"],
        }
