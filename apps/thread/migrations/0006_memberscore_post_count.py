# A member's counted posts, kept by the services from now on; counted here once for the posts there are.

from django.db import migrations, models

# Posts that count: not deleted, in an approved thread that is not deleted (as the services keep it).
COUNT_POSTS = """
    INSERT INTO thread_memberscore (user_id, reactions_received, post_count)
    SELECT p.author_id, 0, count(*)
    FROM thread_post p JOIN thread_thread t ON t.id = p.thread_id
    WHERE p.deleted_at IS NULL AND t.deleted_at IS NULL AND t.state = 'approved'
    GROUP BY p.author_id
    ON CONFLICT (user_id) DO UPDATE SET post_count = EXCLUDED.post_count
"""


class Migration(migrations.Migration):
    dependencies = [
        ("thread", "0005_thread_forum_recent"),
    ]

    operations = [
        migrations.AddField(
            model_name="memberscore",
            name="post_count",
            field=models.IntegerField(default=0, db_default=0),
        ),
        migrations.RunSQL(COUNT_POSTS, reverse_sql=migrations.RunSQL.noop),
    ]
