"""Seed warning types and the escalation rules the brief gives as an example (staff change them in
the admin): 3 active points, new threads premoderated for 7 days; 6, no posting for 3 days; 10, banned
for 30 days."""

from typing import Any

from django.db import migrations

TYPES = [
    {"name": "Off-topic", "points": 1, "expires_after_days": 30,
     "message": "Please keep to the subject of the thread."},
    {"name": "Rude or abusive", "points": 2, "expires_after_days": 90,
     "message": "Please be civil: attacks on other members are not allowed."},
    {"name": "Spam or advertising", "points": 3, "expires_after_days": 180,
     "message": "Advertising and spam are not allowed on this forum."},
]
RULES = [
    {"points": 3, "sanction": "premoderate", "days": 7},
    {"points": 6, "sanction": "no_posting", "days": 3},
    {"points": 10, "sanction": "ban", "days": 30},
]


def seed(apps: Any, schema_editor: Any) -> None:
    warning_type = apps.get_model("forum_admin", "WarningType")
    rule = apps.get_model("forum_admin", "EscalationRule")
    for row in TYPES:
        warning_type.objects.get_or_create(name=row["name"], defaults=row)
    for row in RULES:
        rule.objects.get_or_create(points=row["points"], defaults=row)


class Migration(migrations.Migration):
    dependencies = [("forum_admin", "0001_moderation")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
