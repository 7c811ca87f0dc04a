"""Token families remember the account's password stamp, so that a new password refuses their tokens
at once; the families already on get the stamp of the password they were started with (the current one)."""

from typing import Any

from django.db import migrations, models
from django.utils.crypto import salted_hmac

# What django.contrib.auth's AbstractBaseUser.get_session_auth_hash computes (historical models in a
# migration have no methods).
SESSION_HASH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"


def stamp_open_families(apps: Any, schema_editor: Any) -> None:
    TokenFamily = apps.get_model("authorization", "TokenFamily")
    families = TokenFamily.objects.filter(revoked_at__isnull=True, password_stamp="").select_related("user")
    for family in families.iterator():
        family.password_stamp = salted_hmac(SESSION_HASH_SALT, family.user.password, algorithm="sha256").hexdigest()
        family.save(update_fields=["password_stamp"])


class Migration(migrations.Migration):
    dependencies = [
        ("authorization", "0003_quota_entries"),
    ]

    operations = [
        migrations.AddField(
            model_name="tokenfamily",
            name="password_stamp",
            field=models.CharField(blank=True, editable=False, max_length=128, verbose_name="password stamp"),
        ),
        migrations.RunPython(stamp_open_families, migrations.RunPython.noop, elidable=True),
    ]
