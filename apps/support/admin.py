"""Django admin of the support app, usable by support staff without code: the ticket list (state,
priority, assignee, SLA and kind filters, the time left), a ticket with its conversation, reports and
history inline and a form to reply, write a note (a canned reply fills it), assign, change state and
priority; list actions (assign to me, resolve, close); canned replies; help topics and SLA targets
(administrators); reports and the log of who looked at a report's evidence (read-only).

Every change goes through the services, so that the history, the events and the notifications
follow, and the permission engine decides (staff without ``support.handle_tickets`` are refused).
A report's evidence is never shown here: the ticket links to its page, where every look is logged.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.support import selectors, services
from apps.support.models import (
    ACTIVE_STATES,
    BODY_MAX_LENGTH,
    CannedReply,
    EvidenceView,
    HelpTopic,
    Outcome,
    Priority,
    Report,
    SlaTarget,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketMessage,
    TicketState,
)
from forum.errors import ApplicationError

# Tickets whose SLA target falls within this much time are "due soon".
DUE_SOON = datetime.timedelta(hours=4)
_REFUSED = "_support_admin_refused"


def _actor(request: HttpRequest) -> int:
    return int(request.user.pk or 0)


class _ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MessageInline(_ReadOnlyInline):
    model = TicketMessage
    fields = ["created_at", "author", "kind", "text", "files"]
    readonly_fields = ["created_at", "author", "kind", "text", "files"]
    ordering = ["id"]
    verbose_name = _("message")
    verbose_name_plural = _("conversation")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TicketMessage]:
        return super().get_queryset(request).select_related("author").prefetch_related("attachments")

    @admin.display(description=_("kind"))
    def kind(self, obj: TicketMessage) -> str:
        return str(_("Internal note")) if obj.internal else str(_("Reply"))

    @admin.display(description=_("text"))
    def text(self, obj: TicketMessage) -> str:
        # Sanitized by forum.markup when it was written.
        return mark_safe(obj.body_html)  # noqa: S308

    @admin.display(description=_("files"))
    def files(self, obj: TicketMessage) -> str:
        links = [
            format_html(
                '<a href="{}">{}</a>',
                reverse("support:attachment", args=[file.pk, file.original_name]),
                file.original_name,
            )
            for file in obj.attachments.all()
        ]
        return mark_safe(", ".join(links)) if links else "—"  # noqa: S308 - each part escaped by format_html


class ReportInline(_ReadOnlyInline):
    model = Report
    fields = ["created_at", "reporter", "reason", "comment", "excerpt"]
    readonly_fields = ["created_at", "reporter", "reason", "comment", "excerpt"]
    ordering = ["created_at", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Report]:
        return super().get_queryset(request).select_related("reporter")


class HistoryInline(_ReadOnlyInline):
    model = TicketEvent
    fields = ["created_at", "actor", "kind", "data"]
    readonly_fields = ["created_at", "actor", "kind", "data"]
    ordering = ["created_at", "id"]
    verbose_name = _("history entry")
    verbose_name_plural = _("history")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TicketEvent]:
        return super().get_queryset(request).select_related("actor")


class SlaFilter(admin.SimpleListFilter):
    title = _("SLA")
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("breached", _("Past a target")), ("soon", _("Due within 4 hours")), ("ok", _("On time"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        now = timezone.now()
        breached = selectors.breached_filter(now)
        if self.value() == "breached":
            return queryset.filter(breached)
        soon = Q(state__in=ACTIVE_STATES) & (
            Q(first_response_at__isnull=True, first_response_due__lt=now + DUE_SOON)
            | Q(resolution_due__lt=now + DUE_SOON)
        )
        if self.value() == "soon":
            return queryset.filter(soon).exclude(breached)
        if self.value() == "ok":
            return queryset.filter(state__in=ACTIVE_STATES).exclude(soon)
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = _("assignee")
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("me", _("Me")), ("none", _("Nobody"))] + [
            (str(person.id), person.username) for person in services.staff_members()
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        value = self.value()
        if value == "me":
            return queryset.filter(assignee_id=_actor(request))
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset


class ActiveFilter(admin.SimpleListFilter):
    """Open, in progress or waiting by default: the work left."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", _("Active")), *TicketState.choices, ("all", _("All"))]

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": (self.value() or "active") == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        value = self.value() or "active"
        if value == "active":
            return queryset.filter(state__in=ACTIVE_STATES)
        if value in TicketState.values:
            return queryset.filter(state=value)
        return queryset


class TicketAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    """No field of the ticket is written directly: each change is a service call (save_model)."""

    set_state = forms.ChoiceField(label=_("State"), choices=TicketState.choices)
    set_outcome = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=Outcome.choices,
        help_text=_("A report's ticket needs one to be resolved or closed; its reporters are told."),
    )
    set_priority = forms.TypedChoiceField(label=_("Priority"), choices=Priority.choices, coerce=int)
    set_assignee = forms.TypedChoiceField(label=_("Assignee"), required=False, coerce=int, empty_value=None)
    canned = forms.TypedChoiceField(
        label=_("Canned reply"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("Sent as the reply when the box below is empty; {member} and {ticket} are filled in."),
    )
    reply = forms.CharField(
        label=_("Reply"),
        required=False,
        max_length=BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Markdown. The member sees it and is notified, unless it is an internal note."),
    )
    internal = forms.BooleanField(label=_("Internal note (only staff see it)"), required=False)

    class Meta:
        model = Ticket
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ticket: Ticket = self.instance
        self.fields["set_state"].initial = ticket.state
        self.fields["set_outcome"].initial = ticket.outcome
        self.fields["set_priority"].initial = ticket.priority
        self.fields["set_assignee"].initial = ticket.assignee_id
        assignee, canned = self.fields["set_assignee"], self.fields["canned"]
        assert isinstance(assignee, forms.ChoiceField) and isinstance(canned, forms.ChoiceField)
        assignee.choices = [("", "—"), *[(p.id, p.username) for p in services.staff_members()]]
        canned.choices = [("", "—"), *[(c.id, c.title) for c in selectors.canned_replies()]]
        if ticket.kind == TicketKind.REPORT:
            self.fields["internal"].initial = True


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = TicketAdminForm
    list_display = [
        "number",
        "shown_subject",
        "kind",
        "state",
        "priority",
        "assignee",
        "member",
        "topic",
        "sla",
        "report_count",
        "updated_at",
    ]
    list_display_links = ["number", "shown_subject"]
    list_filter = [ActiveFilter, SlaFilter, "priority", AssigneeFilter, "kind", "topic"]
    list_select_related = ["topic", "member", "assignee"]
    search_fields = ["=id", "subject", "member__username"]
    ordering = ["-priority", "created_at"]
    actions = ["assign_to_me", "resolve", "resolve_action_taken", "resolve_no_action", "close"]
    inlines = [MessageInline, ReportInline, HistoryInline]
    readonly_fields = [
        "number",
        "kind",
        "shown_subject",
        "topic",
        "member",
        "reported",
        "evidence",
        "created_at",
        "first_response_at",
        "first_response_due",
        "resolution_due",
        "resolved_at",
        "closed_at",
        "sla",
        "page",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("number", "kind", "topic"),
                    "shown_subject",
                    ("member", "reported"),
                    "evidence",
                    ("created_at", "sla"),
                    ("first_response_due", "first_response_at"),
                    ("resolution_due", "resolved_at", "closed_at"),
                    "page",
                ]
            },
        ),
        (_("Work the ticket"), {"fields": [("set_state", "set_outcome"), ("set_priority", "set_assignee")]}),
        (_("Reply or note"), {"fields": ["canned", "reply", "internal"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members open tickets; reports open theirs

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the history stays

    @admin.display(description=_("number"), ordering="id")
    def number(self, obj: Ticket) -> str:
        return f"#{obj.pk}"

    @admin.display(description=_("subject"), ordering="subject")
    def shown_subject(self, obj: Ticket) -> str:
        return obj.shown_subject  # a report's, in the reader's language

    @admin.display(description=_("SLA"))
    def sla(self, obj: Ticket) -> str:
        state = selectors.sla_state(
            state=obj.state,
            first_response_at=obj.first_response_at,
            first_response_due=obj.first_response_due,
            resolution_due=obj.resolution_due,
            now=timezone.now(),
        )
        if state is None:
            return "—"
        what = _("first response") if state.target == "first_response" else _("resolution")
        if state.breached:
            return format_html(
                '<strong class="errornote">{}</strong>',
                _("%(what)s late by %(time)s") % {"what": what, "time": timesince(state.due_at)},
            )
        return str(_("%(what)s in %(time)s") % {"what": what, "time": timeuntil(state.due_at)})

    @admin.display(description=_("reported"))
    def reported(self, obj: Ticket) -> str:
        if obj.kind != TicketKind.REPORT:
            return "—"
        url = selectors.target_url(obj.link_kind, int(obj.link_id or 0))
        label = f"{obj.link_kind} {obj.link_id}"
        if obj.reported_member is not None:
            label += f" · {obj.reported_member.username}"
        return format_html('<a href="{}">{}</a>', url, label) if url else label

    @admin.display(description=_("evidence"))
    def evidence(self, obj: Ticket) -> str:
        count = obj.evidence.count()
        if not count:
            return "—"
        text = ngettext(
            "%(count)d dialog message: see it on its page (every look is logged)",
            "%(count)d dialog messages: see them on their page (every look is logged)",
            count,
        ) % {"count": count}
        return format_html('<a href="{}">{}</a>', reverse("support:evidence", args=[obj.pk]), text)

    @admin.display(description=_("page"))
    def page(self, obj: Ticket) -> str:
        return format_html('<a href="{0}">{0}</a>', reverse("support:ticket", args=[obj.pk]))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        return super().get_queryset(request).select_related("reported_member")

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        """Each change the form asks for, through the services, in the order a person would do them."""
        actor = _actor(request)
        data = form.cleaned_data
        calls: list[Callable[[], Any]] = []
        if data.get("set_assignee") != obj.assignee_id:
            calls.append(
                lambda: services.ticket_assign(
                    actor_id=actor, ticket_id=obj.pk, assignee_id=data["set_assignee"]
                )
            )
        if data.get("set_priority") != obj.priority:
            name = Priority(data["set_priority"]).name.lower()
            calls.append(
                lambda: services.ticket_priority_set(actor_id=actor, ticket_id=obj.pk, priority=name)
            )
        body = (data.get("reply") or "").strip()
        if not body and data.get("canned"):
            body = services.canned_reply_render(actor_id=actor, canned_id=data["canned"], ticket_id=obj.pk)
        if body:
            calls.append(
                lambda: services.ticket_reply(
                    author_id=actor, ticket_id=obj.pk, body=body, internal=bool(data.get("internal"))
                )
            )
        # After the reply: the state chosen here wins over the one a reply moves to.
        if data.get("set_state") != obj.state or (data.get("set_outcome") or "") != obj.outcome:
            calls.append(
                lambda: services.ticket_state_set(
                    actor_id=actor,
                    ticket_id=obj.pk,
                    state=data["set_state"],
                    outcome=data.get("set_outcome") or "",
                )
            )
        for call in calls:
            try:
                call()
            except ApplicationError as error:
                setattr(request, _REFUSED, True)
                self.message_user(request, error.message, messages.ERROR)
                return
        obj.refresh_from_db()

    def message_user(
        self, request: HttpRequest, message: Any, level: int | str = messages.INFO, *args: Any, **kwargs: Any
    ) -> None:
        if getattr(request, _REFUSED, False) and level == messages.SUCCESS:
            return  # the refusal said it all
        super().message_user(request, message, level, *args, **kwargs)

    def _each(
        self, request: HttpRequest, queryset: QuerySet[Ticket], change: Callable[[int], Any], done: str
    ) -> None:
        changed, refused = 0, []
        for ticket_id in queryset.values_list("pk", flat=True):
            try:
                change(ticket_id)
                changed += 1
            except ApplicationError as error:
                refused.append(f"#{ticket_id}: {error.message}")
        if changed:
            self.message_user(request, done % {"count": changed}, messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description=_("Assign to me"))
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        actor = _actor(request)
        self._each(
            request,
            queryset,
            lambda ticket_id: services.ticket_assign(actor_id=actor, ticket_id=ticket_id, assignee_id=actor),
            str(_("Tickets assigned to you: %(count)d.")),
        )

    def _resolve(self, request: HttpRequest, queryset: QuerySet[Ticket], state: str, outcome: str) -> None:
        actor = _actor(request)
        self._each(
            request,
            queryset,
            lambda ticket_id: services.ticket_state_set(
                actor_id=actor, ticket_id=ticket_id, state=state, outcome=outcome
            ),
            str(_("Tickets changed: %(count)d.")),
        )

    @admin.action(description=_("Resolve (requests)"))
    def resolve(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._resolve(request, queryset, TicketState.RESOLVED, "")

    @admin.action(description=_("Resolve: action taken"))
    def resolve_action_taken(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._resolve(request, queryset, TicketState.RESOLVED, Outcome.ACTION_TAKEN)

    @admin.action(description=_("Resolve: no action needed"))
    def resolve_no_action(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._resolve(request, queryset, TicketState.RESOLVED, Outcome.NO_ACTION)

    @admin.action(description=_("Close"))
    def close(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._resolve(request, queryset, TicketState.CLOSED, "")


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["title", "excerpt", "is_active", "position"]
    list_editable = ["is_active", "position"]
    search_fields = ["title", "body"]
    fields = ["title", "body", "is_active", "position"]

    @admin.display(description=_("text"))
    def excerpt(self, obj: CannedReply) -> str:
        return Truncator(" ".join(obj.body.split())).chars(100)


@admin.register(HelpTopic)
class HelpTopicAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "code", "is_public", "assign_policy", "default_priority", "position"]
    list_editable = ["position"]
    fields = ["name", "code", "description", "is_public", "assign_policy", "default_priority", "position"]

    def get_readonly_fields(self, request: HttpRequest, obj: HelpTopic | None = None) -> list[str]:
        # Reports find their topic by its code.
        return ["code"] if obj is not None and obj.code == "reports" else []

    def has_delete_permission(self, request: HttpRequest, obj: HelpTopic | None = None) -> bool:
        return False  # tickets keep their topic


@admin.register(SlaTarget)
class SlaTargetAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["priority", "first_response_minutes", "resolution_minutes"]
    list_editable = ["first_response_minutes", "resolution_minutes"]


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "id",
        "created_at",
        "reporter",
        "target_kind",
        "target_label",
        "reason",
        "ticket_link",
        "state",
    ]
    list_filter = ["reason", "target_kind", "ticket__state"]
    list_select_related = ["reporter", "ticket"]
    search_fields = ["reporter__username", "target_label", "comment", "=ticket__id"]
    fields = [
        "ticket_link",
        "reporter",
        "target_kind",
        "target_id",
        "target_label",
        "reason",
        "comment",
        "excerpt",
        "created_at",
    ]
    readonly_fields = [
        "ticket_link",
        "reporter",
        "target_kind",
        "target_id",
        "target_label",
        "reason",
        "comment",
        "excerpt",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("ticket"))
    def ticket_link(self, obj: Report) -> str:
        return format_html(
            '<a href="{}">#{}</a>',
            reverse("admin:support_ticket_change", args=[obj.ticket_id]),
            obj.ticket_id,
        )

    @admin.display(description=_("state"))
    def state(self, obj: Report) -> str:
        return str(obj.ticket.get_state_display())


@admin.register(EvidenceView)
class EvidenceViewAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Who looked at which report's dialog messages, and when: append-only."""

    list_display = ["viewed_at", "staff", "ticket", "surface"]
    list_filter = ["surface"]
    list_select_related = ["staff", "ticket"]
    search_fields = ["staff__username", "=ticket__id"]
    fields = ["viewed_at", "staff", "ticket", "surface"]
    readonly_fields = ["viewed_at", "staff", "ticket", "surface"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
