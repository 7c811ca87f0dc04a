"""Forms of the support pages: they check the shape of the input; the services decide the rest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.support.models import (
    BODY_MAX_LENGTH,
    COMMENT_MAX_LENGTH,
    SUBJECT_MAX_LENGTH,
    Outcome,
    Priority,
    ReportReason,
    ReportTarget,
    TicketState,
)
from forum.forms import attachments_field


def _body(label: Any = None) -> forms.CharField:
    return forms.CharField(
        label=label or _("Message"),
        max_length=BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Markdown, as in posts."),
    )


class NewTicketForm(forms.Form):
    topic = forms.TypedChoiceField(label=_("Topic"), coerce=int, choices=())
    subject = forms.CharField(label=_("Subject"), max_length=SUBJECT_MAX_LENGTH)
    body = _body(_("What happened?"))
    attachments = attachments_field(_("Screenshots or files"))

    def __init__(self, *args: Any, topics: Sequence[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["topic"].choices = [(topic_id, name) for topic_id, name in topics]  # type: ignore[attr-defined]


class ReplyForm(forms.Form):
    body = _body(_("Your reply"))
    attachments = attachments_field()


class StaffReplyForm(ReplyForm):
    """Staff write a reply or an internal note, and may set the state with it."""

    internal = forms.BooleanField(label=_("Internal note (only staff see it)"), required=False, initial=False)
    state = forms.ChoiceField(
        label=_("Then the ticket is"),
        required=False,
        choices=[("", _("as usual (waiting on the member after a reply)")), *TicketState.choices],
    )


class StateForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), choices=TicketState.choices)
    outcome = forms.ChoiceField(
        label=_("Outcome"), required=False, choices=[("", "—"), *[c for c in Outcome.choices if c[0]]]
    )


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(label=_("Priority"), choices=[(p.name.lower(), p.label) for p in Priority])


class AssignForm(forms.Form):
    # "me", "none", or a staff member's id (from the choices the page offers).
    assignee = forms.CharField(label=_("Assignee"), max_length=20)


class ResolveReportForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[c for c in Outcome.choices if c[0]],
        widget=forms.RadioSelect,
        help_text=_("All the reporters are told, and nothing more."),
    )
    note = forms.CharField(
        label=_("Internal note"),
        required=False,
        max_length=BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReportForm(forms.Form):
    kind = forms.ChoiceField(choices=ReportTarget.choices, widget=forms.HiddenInput)
    id = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    reason = forms.ChoiceField(
        label=_("What is wrong?"), choices=ReportReason.choices, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("Anything staff should know?"),
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Needed when the reason is “Something else”."),
    )
