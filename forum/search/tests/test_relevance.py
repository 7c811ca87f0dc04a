"""The relevance fixture: a small corpus in Russian and English and queries with the document
expected on top (morphology, titles above bodies, phrases, members by prefix and typo)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from forum.search.base import Document, SearchQuery, SearchScope, get_backend

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def thread(pk: int, title: str, body: str) -> Document:
    return Document(
        kind="thread", id=pk, app="thread", title=title, body=body, forum_id=1, thread_id=pk, created_at=NOW
    )


def member(pk: int, username: str, name: str = "") -> Document:
    return Document(kind="member", id=pk, app="user", title=username, body=name, created_at=NOW)


CORPUS = [
    thread(1, "Как выбрать чайник", "Электрические чайники кипятят воду быстрее, чем плита."),
    thread(2, "Правила форума", "Прочитайте правила, прежде чем писать на форумах."),
    thread(3, "Ремонт велосипеда", "Цепь слетает с задней звёздочки, что делать?"),
    thread(4, "Рецепты борща", "Свёкла, капуста и немного уксуса: классический борщ."),
    thread(5, "Choosing a kettle", "Electric kettles boil water faster than a stove."),
    thread(6, "Forum rules", "Read the rules before posting in the threads."),
    thread(7, "Bicycle repair", "The chain keeps falling off the rear sprocket."),
    thread(8, "Running shoes", "Which shoes are best for running on trails?"),
    thread(9, "Лучшие книги года", "Какие книги вы прочитали в этом году?"),
    thread(10, "Gardening tips", "Tomatoes need sun; the gardener waters them daily."),
    thread(11, "Море и путешествия", "Летом мы путешествовали по морю на яхте."),
    thread(12, "Photography basics", "Aperture, shutter speed and ISO explained for photographers."),
    thread(13, "Домашние кошки", "Кошка спит весь день, а ночью бегает."),
    thread(14, "Learning Python", "Decorators and generators for programmers who know the basics."),
    thread(15, "Mixed: кофе and coffee", "Эспрессо or latte? Кофемашина makes both."),
    member(101, "alexander", "Александр Пушкин"),
    member(102, "maria_ivanova", "Мария Иванова"),
    member(103, "john_smith", "John Smith"),
    member(104, "kettle_fan", ""),
]

# (query, kind, the id expected first)
EXPECTED = [
    ("чайники", "thread", 1),
    ("чайник", "thread", 1),
    ("форумы", "thread", 2),
    ("правило", "thread", 2),
    ("велосипеды", "thread", 3),
    ("борщи", "thread", 4),
    ("kettles", "thread", 5),
    ("kettle", "thread", 5),
    ("rule", "thread", 6),
    ("repairing bicycles", "thread", 7),
    ("run", "thread", 8),
    ("книга", "thread", 9),
    ("gardeners", "thread", 10),
    ("путешествие", "thread", 11),
    ("photographer", "thread", 12),
    ("кошки", "thread", 13),
    ("generator", "thread", 14),
    ("coffee", "thread", 15),
    ("кофе", "thread", 15),
    ('"chain keeps falling"', "thread", 7),
    ("sprocket -звёздочки", "thread", 7),
    ("alex", "member", 101),
    ("александр", "member", 101),
    ("mria_ivanova", "member", 102),
    ("jon_smith", "member", 103),
    ("Иванова", "member", 102),
]


def test_the_expected_document_comes_first() -> None:
    backend = get_backend("postgres")
    backend.index(CORPUS)
    scope = SearchScope(readable_forum_ids=frozenset({1}))
    misses = []
    for text, kind, expected in EXPECTED:
        hits = backend.search(SearchQuery(text=text, kinds=(kind,)), scope).hits
        top = hits[0].id if hits else None
        if top != expected:
            misses.append((text, expected, [hit.id for hit in hits]))
    assert misses == []
