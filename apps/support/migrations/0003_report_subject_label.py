"""Report tickets' subjects made when shown, in the reader's language: the reported title or name kept
apart. Tickets filed before take it from their first report, as the reporter saw it then."""

from typing import Any

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps: Any, schema_editor: Any) -> None:
    Ticket = apps.get_model("support", "Ticket")
    Report = apps.get_model("support", "Report")
    first_label = Report.objects.filter(ticket=OuterRef("pk")).order_by("id").values("target_label")[:1]
    tickets = Ticket.objects.filter(kind="report", link_id__isnull=False, subject_label__isnull=True)
    # Without a report to take it from, a ticket keeps its subject as written (null).
    for ticket_id, label in tickets.annotate(label=Subquery(first_label)).values_list("id", "label"):
        if label is not None:
            Ticket.objects.filter(pk=ticket_id).update(subject_label=label[:150])


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0002_seed_topics_and_sla"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="subject_label",
            field=models.CharField(
                blank=True, editable=False, max_length=150, null=True, verbose_name="reported title or name"
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
