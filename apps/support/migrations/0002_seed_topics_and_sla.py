"""Seed what the support app needs to work from a fresh database: the help topics (the hidden one that
reports land in, and a few members choose from) and the SLA targets per priority.

Names are stored in English; staff rename, add and reorder topics and change the targets in the Django
admin. This only creates what is missing.
"""

from typing import Any

from django.db import migrations

TOPICS = [
    {
        "code": "account",
        "name": "My account",
        "description": "Signing in, email, profile, deleting the account.",
        "position": 10,
    },
    {
        "code": "forum-help",
        "name": "Using the forum",
        "description": "How something works, or seems broken.",
        "position": 20,
    },
    {
        "code": "billing",
        "name": "Payments and statuses",
        "description": "A payment, a status you bought or were given.",
        "position": 30,
    },
    {"code": "other", "name": "Something else", "description": "", "position": 90},
    # Where reports land: not offered to members (they use the report button).
    {
        "code": "reports",
        "name": "Reports",
        "description": "Reported posts, threads, members and messages.",
        "position": 100,
        "is_public": False,
    },
]
# priority: (first response, resolution) in minutes; 4 urgent, 3 high, 2 normal, 1 low.
SLA = {4: (60, 8 * 60), 3: (4 * 60, 24 * 60), 2: (24 * 60, 72 * 60), 1: (72 * 60, 7 * 24 * 60)}


def seed(apps: Any, schema_editor: Any) -> None:
    topic_model = apps.get_model("support", "HelpTopic")
    for topic in TOPICS:
        topic_model.objects.get_or_create(code=topic["code"], defaults=topic)
    sla_model = apps.get_model("support", "SlaTarget")
    for priority, (first, resolution) in SLA.items():
        sla_model.objects.get_or_create(
            priority=priority, defaults={"first_response_minutes": first, "resolution_minutes": resolution}
        )


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
