"""The recency index of search documents holds what a search's walk reads (docs/search.md, "What a
search costs").

A search of a common word walks the newest documents of its kind until it has found 201 matches
(about a thousand posts for a word in one post in five), and read each from the table: 0.4
microseconds a document, half of the statement. The index now includes the document's id, the
scope's columns (visible, forum_id) and its vector, so that walk is an index-only scan (0.95 to
0.78 ms of PostgreSQL's CPU for a common word's search on the bench dataset, 1.30 to 0.97 for a
phrase), wherever the table's visibility map says the pages are all visible: new documents are not
until a vacuum, so autovacuum visits this table after every thousand inserts (and after 1% of it
is updated) rather than after a fifth of it.

Built beside the old index without locking writes (CREATE INDEX CONCURRENTLY: hence not atomic),
then the old one dropped.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

TABLE = "forum_searchdocument"
AUTOVACUUM = (
    "autovacuum_vacuum_insert_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0,"
    " autovacuum_vacuum_scale_factor = 0.01"
)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("forum", "0004_search_index_pending_lists"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="searchdocument",
            index=models.Index(
                models.F("kind"),
                models.OrderBy(models.F("created_at"), descending=True, nulls_last=True),
                models.OrderBy(models.F("object_id"), descending=True),
                include=("id", "visible", "forum_id", "search_vector"),
                name="search_document_newest",
            ),
        ),
        RemoveIndexConcurrently(model_name="searchdocument", name="search_document_recent"),
        migrations.RunSQL(
            f"ALTER TABLE {TABLE} SET ({AUTOVACUUM})",
            reverse_sql=(
                f"ALTER TABLE {TABLE} RESET (autovacuum_vacuum_insert_threshold,"
                " autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_scale_factor)"
            ),
        ),
    ]
