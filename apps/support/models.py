"""Tables of the support app: help topics, tickets with their conversation, files and history, the
reports that become tickets, the dialog messages copied into a report's ticket as evidence (and who
looked at them), canned replies and the SLA targets.

A ticket is a member's request (``request``), the ticket a report opens (``report``: every report on
the same object while it is open lands in one), or, later, an appeal of a warning or a ban
(``appeal``, linked to that object). Objects of other apps are kept by kind and id (``link_kind``,
``link_id``), never by a foreign key; the only relations out of this app go to the user model.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

SUBJECT_MAX_LENGTH = 150
BODY_MAX_LENGTH = 20_000
COMMENT_MAX_LENGTH = 1_000
# What a report keeps of a post or thread as it read when it was reported (the text may change).
EXCERPT_MAX_LENGTH = 1_000
LINK_KIND_MAX_LENGTH = 30
# The topic reports land in (seeded by a data migration; staff may rename it, not recode it).
REPORTS_TOPIC_CODE = "reports"


class TicketKind(models.TextChoices):
    REQUEST = "request", _("Request")
    REPORT = "report", _("Report")
    APPEAL = "appeal", _("Appeal")


class TicketState(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING_ON_MEMBER = "waiting_on_member", _("Waiting on member")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


# States in which a ticket still needs someone: its SLA runs and new reports merge into it.
ACTIVE_STATES = (TicketState.OPEN, TicketState.IN_PROGRESS, TicketState.WAITING_ON_MEMBER)


class Priority(models.IntegerChoices):
    # Numbers, so that lists sort by urgency; the API names them (``low`` ... ``urgent``).
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


class Outcome(models.TextChoices):
    """How a report (or any ticket) ended, as its reporters are told: nothing more."""

    NONE = "", "—"
    ACTION_TAKEN = "action_taken", _("Action taken")
    NO_ACTION = "no_action", _("No action")


class AssignPolicy(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin among support staff")
    MANUAL = "manual", _("Nobody until assigned by hand")


class ReportTarget(models.TextChoices):
    POST = "post", _("Post")
    THREAD = "thread", _("Thread")
    MEMBER = "member", _("Member")
    MESSAGE = "message", _("Dialog message")


def report_subject(*, link_kind: str, link_id: int, label: str) -> str | None:
    """A report ticket's subject in the active language, made of what it is about: the kind and id of
    the reported object and its title or name (``Ticket.subject_label``). None for a kind it does not
    know."""
    if link_kind == ReportTarget.POST:
        return gettext("Post #%(id)d in “%(title)s”") % {"id": link_id, "title": label}
    if link_kind == ReportTarget.THREAD:
        return gettext("Thread “%(title)s”") % {"title": label}
    if link_kind == ReportTarget.MEMBER:
        return gettext("Member %(name)s") % {"name": label}
    if link_kind == ReportTarget.MESSAGE:
        return gettext("Dialog message #%(id)d") % {"id": link_id}
    return None


class ReportReason(models.TextChoices):
    SPAM = "spam", _("Spam")
    ABUSE = "abuse", _("Abuse or harassment")
    OFF_TOPIC = "off_topic", _("Off-topic")
    ILLEGAL = "illegal", _("Illegal content")
    OTHER = "other", _("Something else")


class HelpTopic(models.Model):
    """What a ticket is about, chosen by the member (public topics) or by the app (reports)."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    # Offered on the new-ticket form; the reports topic is not.
    is_public = models.BooleanField(_("members may choose it"), default=True)
    assign_policy = models.CharField(
        _("assignment"), max_length=20, choices=AssignPolicy.choices, default=AssignPolicy.ROUND_ROBIN
    )
    default_priority = models.PositiveSmallIntegerField(
        _("default priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    # The round robin's place: the next ticket goes to the next staff member after this one.
    last_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["position", "name", "id"]
        verbose_name = _("help topic")
        verbose_name_plural = _("help topics")

    def __str__(self) -> str:
        return self.name


class SlaTarget(models.Model):
    """How soon a ticket of a priority gets its first answer from staff, and its resolution."""

    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices, unique=True)
    first_response_minutes = models.PositiveIntegerField(_("first response within (minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution within (minutes)"))

    class Meta:
        ordering = ["-priority"]
        verbose_name = _("SLA target")
        verbose_name_plural = _("SLA targets")

    def __str__(self) -> str:
        return str(Priority(self.priority).label)


class Ticket(models.Model):
    kind = models.CharField(_("kind"), max_length=10, choices=TicketKind.choices, default=TicketKind.REQUEST)
    topic = models.ForeignKey(
        HelpTopic, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("topic")
    )
    # Who asked (a request or an appeal); empty for a report's ticket, whose reporters are its reports'.
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("member"),
    )
    subject = models.CharField(_("subject"), max_length=SUBJECT_MAX_LENGTH)
    # A report's subject is made when shown, in the reader's language (``shown_subject``), from the
    # reported object's kind and id (link_kind, link_id) and this title or name; ``subject`` keeps it
    # as written when it was filed, for search. Null: the subject is shown as written (requests, appeals).
    subject_label = models.CharField(
        pgettext_lazy("ticket", "reported title or name"),
        max_length=SUBJECT_MAX_LENGTH,
        null=True,
        blank=True,
        editable=False,
    )
    state = models.CharField(_("state"), max_length=20, choices=TicketState.choices, default=TicketState.OPEN)
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assignee"),
    )
    created_at = models.DateTimeField(_("opened"))
    updated_at = models.DateTimeField(_("updated"))
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, default="", blank=True)
    # Another app's object the ticket is about: a report's target ("post", 42), an appeal's warning.
    link_kind = models.CharField(_("linked kind"), max_length=LINK_KIND_MAX_LENGTH, blank=True)
    link_id = models.BigIntegerField(_("linked id"), null=True, blank=True)
    # A report's: whose content it is (for the moderation acts), how many reports and which reasons.
    reported_member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reported member"),
    )
    report_count = models.PositiveIntegerField(_("reports"), default=0)
    reasons = ArrayField(models.CharField(max_length=20), default=list, blank=True, verbose_name=_("reasons"))

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        constraints = [
            # Reports on one object while its ticket is open all land in that ticket.
            models.UniqueConstraint(
                fields=["link_kind", "link_id"],
                condition=Q(kind="report", state__in=["open", "in_progress", "waiting_on_member"]),
                name="support_ticket_one_open_report_per_target",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-updated_at"], name="support_ticket_member"),
            models.Index(fields=["state", "-priority", "created_at"], name="support_ticket_queue"),
            models.Index(fields=["assignee", "state"], name="support_ticket_assignee"),
            models.Index(fields=["link_kind", "link_id"], name="support_ticket_link"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.shown_subject}"

    @property
    def shown_subject(self) -> str:
        """The subject as the reader's language says it."""
        if self.kind == TicketKind.REPORT and self.subject_label is not None and self.link_id is not None:
            made = report_subject(link_kind=self.link_kind, link_id=self.link_id, label=self.subject_label)
            if made is not None:
                return made
        return self.subject


class TicketMessage(models.Model):
    """A public reply (the member and staff see it) or an internal note (staff only)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    internal = models.BooleanField(_("internal note"), default=False)
    body = models.TextField(_("body"))
    body_html = models.TextField()
    created_at = models.DateTimeField(_("written"))

    class Meta:
        ordering = ["ticket", "id"]
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")
        indexes = [models.Index(fields=["ticket", "id"], name="support_message_ticket")]

    def __str__(self) -> str:
        return f"message {self.pk} on ticket {self.ticket_id}"


# Uploads of one member waiting for a message: enough for one message being written.
PENDING_ATTACHMENTS_MAX = 10
ATTACHMENTS_PER_MESSAGE_MAX = 5


class TicketAttachment(models.Model):
    """A file on a ticket message, stored by forum.uploads in the private storage. Uploaded first, then
    taken by a message: until then ``message`` is empty and the file is its uploader's alone."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    message = models.ForeignKey(
        TicketMessage, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    storage_key = models.CharField(max_length=255)
    thumbnail_key = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["uploader", "message"], name="support_attachment_pending")]

    def __str__(self) -> str:
        return self.original_name


class TicketEventKind(models.TextChoices):
    OPENED = "opened", _("Opened")
    REPORTED = "reported", _("Reported again")
    STATE = "state", _("State changed")
    PRIORITY = "priority", _("Priority changed")
    ASSIGNED = "assigned", _("Assigned")
    TOPIC = "topic", _("Topic changed")
    REPLIED = "replied", _("Replied")
    NOTE = "note", _("Internal note")
    ACTION = "action", _("Moderation act")


class TicketEvent(models.Model):
    """One line of a ticket's history: who changed what, when. Written with every change; never edited."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=TicketEventKind.choices)
    # What changed: {"from": ..., "to": ...}, or an act's own values ({"action": "post_hidden", ...}).
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["ticket", "created_at", "id"]
        verbose_name = _("ticket history entry")
        verbose_name_plural = _("ticket history")

    def __str__(self) -> str:
        return f"{self.kind} on ticket {self.ticket_id}"


class Report(models.Model):
    """One member's report of a post, thread, member or dialog message; its ticket gathers every
    report on the same object while it is open."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    target_kind = models.CharField(_("reported"), max_length=10, choices=ReportTarget.choices)
    target_id = models.BigIntegerField(_("reported id"))
    reason = models.CharField(_("reason"), max_length=20, choices=ReportReason.choices)
    comment = models.TextField(_("comment"), max_length=COMMENT_MAX_LENGTH, blank=True)
    # How staff recognise it: the thread's title or the member's name, and the words reported, as they
    # were when the report was filed (a dialog message's are in the ticket's evidence instead).
    target_label = models.CharField(max_length=200, blank=True)
    excerpt = models.TextField(blank=True)
    created_at = models.DateTimeField(_("filed"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [models.UniqueConstraint(fields=["ticket", "reporter"], name="support_report_once")]
        indexes = [models.Index(fields=["reporter", "-created_at"], name="support_report_reporter")]

    def __str__(self) -> str:
        return f"report {self.pk} of {self.target_kind} {self.target_id}"


class Evidence(models.Model):
    """A dialog message copied into a report's ticket when the report was filed (the reported one and a
    few around it): the only way support ever reads a dialog."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="evidence")
    dialog_id = models.BigIntegerField()
    message_id = models.BigIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body_html = models.TextField()
    written_at = models.DateTimeField()
    reported = models.BooleanField(default=False)
    copied_at = models.DateTimeField()

    class Meta:
        ordering = ["ticket", "message_id"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        constraints = [models.UniqueConstraint(fields=["ticket", "message_id"], name="support_evidence_once")]

    def __str__(self) -> str:
        return f"message {self.message_id} on ticket {self.ticket_id}"


class EvidenceView(models.Model):
    """A staff member looked at a ticket's evidence (every time; append-only)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="evidence_views")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    viewed_at = models.DateTimeField()
    # Where: "page", "api".
    surface = models.CharField(max_length=10)

    class Meta:
        ordering = ["-viewed_at", "-id"]
        verbose_name = _("evidence view")
        verbose_name_plural = _("evidence views")

    def __str__(self) -> str:
        return f"{self.staff_id} viewed the evidence of ticket {self.ticket_id}"


class CannedReply(models.Model):
    """A reply staff pick instead of typing it; ``{member}`` and ``{ticket}`` are filled in."""

    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("body"), max_length=BODY_MAX_LENGTH)
    is_active = models.BooleanField(_("offered"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "title", "id"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self) -> str:
        return self.title
