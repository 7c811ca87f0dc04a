"""Small GIN pending lists for the search indexes (docs/search.md, "What a search costs").

A GIN index queues new entries in a pending list that every search reads from end to end, until
the list reaches gin_pending_list_limit (4 MB by default) or a vacuum merges it. On the bench
dataset the members' trigram index was left with 63 pages of it after a rebuild, and each of its
four scans read them all (0.3 to 0.6 ms each, for a search that found nothing). The full-text
indexes keep a list of at most 64 kB; the trigram index of members, rarely written, none at all.
The indexes are altered in place, not rebuilt.
"""

import django.contrib.postgres.indexes
from django.db import migrations, models

KINDS = ("post", "thread", "message")


class Migration(migrations.Migration):
    dependencies = [
        ("forum", "0003_search_document"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                *(
                    migrations.RemoveIndex(model_name="searchdocument", name=f"search_vector_{kind}")
                    for kind in KINDS
                ),
                *(
                    migrations.AddIndex(
                        model_name="searchdocument",
                        index=django.contrib.postgres.indexes.GinIndex(
                            condition=models.Q(("kind", kind)),
                            fields=["search_vector"],
                            gin_pending_list_limit=64,
                            name=f"search_vector_{kind}",
                        ),
                    )
                    for kind in KINDS
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"ALTER INDEX search_vector_{kind} SET (gin_pending_list_limit = 64)",
                    reverse_sql=f"ALTER INDEX search_vector_{kind} RESET (gin_pending_list_limit)",
                )
                for kind in KINDS
            ],
        ),
        # Turning fastupdate off leaves the entries already pending where they are: merged first.
        migrations.RunSQL(
            "SELECT gin_clean_pending_list('search_member_name_trgm'::regclass);"
            " ALTER INDEX search_member_name_trgm SET (fastupdate = off)",
            reverse_sql="ALTER INDEX search_member_name_trgm RESET (fastupdate)",
        ),
    ]
