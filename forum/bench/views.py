"""Pages for the server benchmark: a bare one (one query), a forum page (four queries), a slow one.

Raw SQL on the bench tables (see ``forum.bench.schema``) through Django's connection, so that the
cost per request is Django's: middleware, cursor, template rendering with the context processors.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from forum.bench.schema import PAGE_SIZE, WAIT_SECONDS

TOPIC_COLUMNS = ["id", "title", "author", "replies", "views", "last_post_at"]


def _rows(sql: str, params: list[Any], columns: list[str]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def bare(request: HttpRequest) -> HttpResponse:
    """A small template from one 20-row query."""
    topics = _rows(
        "SELECT id, title, author, replies, views, last_post_at FROM bench_topic ORDER BY id LIMIT %s",
        [PAGE_SIZE],
        TOPIC_COLUMNS,
    )
    return render(request, "bench/bare.html", {"topics": topics})


def forum_page(request: HttpRequest, forum_id: int) -> HttpResponse:
    """A forum's first page of topics: the forum, its topics, their count, the sidebar of forums."""
    forums = _rows(
        "SELECT id, title, description FROM bench_forum WHERE id = %s",
        [forum_id],
        ["id", "title", "description"],
    )
    if not forums:
        raise Http404
    topics = _rows(
        "SELECT id, title, author, replies, views, last_post_at FROM bench_topic "
        "WHERE forum_id = %s ORDER BY last_post_at DESC LIMIT %s",
        [forum_id, PAGE_SIZE],
        TOPIC_COLUMNS,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_topic WHERE forum_id = %s", [forum_id])
        (topic_count,) = cursor.fetchone() or (0,)
    sidebar = _rows(
        "SELECT id, title, topic_count FROM bench_forum ORDER BY id", [], ["id", "title", "topic_count"]
    )
    return render(
        request,
        "bench/forum.html",
        {
            "forum": forums[0],
            "topics": topics,
            "topic_count": topic_count,
            "page_count": (topic_count + PAGE_SIZE - 1) // PAGE_SIZE,
            "sidebar": sidebar,
        },
    )


def wait(request: HttpRequest) -> HttpResponse:
    """The bare page after waiting on another service (an upload to S3, a payment API, a search)."""
    time.sleep(WAIT_SECONDS)
    return bare(request)
