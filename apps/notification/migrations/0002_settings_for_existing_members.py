"""Every account made before this app gets its settings row (with the defaults), as new ones do at
sign-up, so that support finds every member in the admin."""

from django.conf import settings
from django.db import migrations


def create_rows(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    MemberSettings = apps.get_model("notification", "MemberSettings")
    have = set(MemberSettings.objects.values_list("user_id", flat=True))
    missing = User.objects.exclude(pk__in=have).values_list("pk", flat=True).iterator(chunk_size=2000)
    batch = []
    for user_id in missing:
        batch.append(MemberSettings(user_id=user_id))
        if len(batch) >= 2000:
            MemberSettings.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    MemberSettings.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("notification", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(create_rows, migrations.RunPython.noop)]
