"""Full-text search: the interface (base.py) and its two backends (postgres.py, meilisearch.py).

The built-in backends are registered here by name; each factory imports its module only when that
backend is first asked for, so a process on PostgreSQL never loads the Meilisearch client.
"""

from __future__ import annotations

from forum.search.base import SearchBackend, register_backend


def _postgres() -> SearchBackend:
    from forum.search.postgres import PostgresBackend  # loaded on first use, see above

    return PostgresBackend()


def _meilisearch() -> SearchBackend:
    from forum.search.meilisearch import MeilisearchBackend  # loaded on first use, see above

    return MeilisearchBackend()


register_backend("postgres", _postgres)
register_backend("meilisearch", _meilisearch)
