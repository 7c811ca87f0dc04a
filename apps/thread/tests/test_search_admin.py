"""The search index's state in the Django admin (documents per kind, how far behind) and
``manage.py search_reindex`` rebuilding it from the thread app's documents."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from apps.thread import services
from apps.thread.tests.conftest import Tree
from forum.search.backlog import events_behind
from forum.search.base import SearchQuery, get_backend, scope_for
from forum.testing.search import deliver_search_events


def test_the_admin_shows_documents_and_events_not_yet_indexed(
    django_user_model: Any, tree: Tree, staff: int
) -> None:
    superuser = django_user_model.objects.create_superuser(username="root", email="root@example.com")
    client = Client()
    client.force_login(superuser)
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Anchor", body="Chain")
    services.post_create(author_id=staff, thread_id=thread.id, body="Rope")
    assert events_behind() == 3  # thread.created, two thread.post_created
    page = client.get("/admin/forum/searchdocument/").content.decode()
    assert "Events not yet indexed: 3" in page
    deliver_search_events()
    assert events_behind() == 0
    page = client.get("/admin/forum/searchdocument/").content.decode()
    assert "Events not yet indexed: 0" in page
    assert "<td>post</td><td>2</td>" in page and "<td>thread</td><td>1</td>" in page
    # Metadata only: no title or body shows in the list.
    assert "Chain" not in page and "Rope" not in page
    staff_client = Client()
    staff_client.force_login(django_user_model.objects.get(pk=staff))
    assert staff_client.get("/admin/forum/searchdocument/").status_code in (302, 403)


def test_reindex_rebuilds_from_the_apps_documents(tree: Tree, staff: int) -> None:
    for number in range(5):
        services.thread_create(author_id=staff, forum_id=tree.general, title=f"Buoy {number}", body="Floats")
    # No handler ran: the index is empty until the rebuild.
    backend = get_backend("postgres")
    assert backend.search(SearchQuery(text="buoy", kinds=("thread",)), scope_for(None)).total == 0
    out, err = StringIO(), StringIO()
    call_command("search_reindex", "--app", "thread", "--batch-size", "2", "--clear", stdout=out, stderr=err)
    assert "post: 5 documents from the thread app into postgres" in out.getvalue()
    assert "thread: 5 documents" in out.getvalue()
    assert "5/5 100%" in err.getvalue()  # the progress bar
    assert backend.search(SearchQuery(text="buoy", kinds=("thread",)), scope_for(None)).total == 5
    # Again: the same documents, nothing doubled.
    call_command("search_reindex", stdout=StringIO(), stderr=StringIO())
    assert backend.stats().documents["thread"] == 5
    once = StringIO()
    call_command("search_reindex", "--if-empty", stdout=once, stderr=StringIO())
    assert "has documents: nothing to do" in once.getvalue()
    with pytest.raises(CommandError, match="Unknown backend"):
        call_command("search_reindex", "--backend", "elastic", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="No documents from nothing"):
        call_command("search_reindex", "--app", "nothing", stdout=StringIO(), stderr=StringIO())
