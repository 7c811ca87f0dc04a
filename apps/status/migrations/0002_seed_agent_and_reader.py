"""Seed the two statuses of the brief: Agent and Reader, with the permission values they grant.

Names and descriptions are stored in English and translated when shown (see SEEDED_TEXTS in models).
Staff can change the values in the Django admin later; this only creates what is missing.
"""

from django.db import migrations

SEEDED = [
    {
        "code": "agent",
        "name": "Agent",
        "description": "Reads the exclusive sections and may open more threads a day.",
        "position": 10,
        "permissions": {
            "forum.read_exclusive": True,
            "thread.create_per_day": 10,
        },
    },
    {
        "code": "reader",
        "name": "Reader",
        "description": (
            "Reads the sections for Readers and takes a larger part in discussions: more replies a day, "
            "more attachments, larger dialogs, threads published without premoderation."
        ),
        "position": 20,
        "permissions": {
            "forum.read_extended": True,
            "post.create_per_day": 300,
            "post.attachments_max": 10,
            "dialog.max_participants": 20,
            "thread.skip_premoderation": True,
        },
    },
]


def seed(apps, schema_editor):
    Status = apps.get_model("status", "Status")
    for status in SEEDED:
        Status.objects.get_or_create(code=status["code"], defaults={k: v for k, v in status.items() if k != "code"})


def unseed(apps, schema_editor):
    Status = apps.get_model("status", "Status")
    Status.objects.filter(code__in=[status["code"] for status in SEEDED], grants__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("status", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
