"""manage.py search_reindex: rebuild the search index from the owning apps' documents, in batches.

The site stays up while it runs: every batch is one keyset-paginated read of the owning app and one
idempotent upsert of the backend, so searches keep answering from the documents already there and
event handlers may index the same documents at the same time (the newest state wins). ``--clear``
first empties the kinds being rebuilt (searches then miss what is not indexed again yet), for
when documents of objects that no longer exist must go.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from forum.search.base import SearchUnavailable, backend_names, get_backend, sources


class Progress:
    """A one-line progress bar on a terminal, a line per tenth otherwise (logs stay short)."""

    WIDTH = 30

    def __init__(self, out: OutputWrapper, label: str, total: int) -> None:
        self.out, self.label, self.total = out, label, max(total, 0)
        self.done = 0
        self.started = time.monotonic()
        self.tty = out.isatty()
        self.reported_tenth = -1

    def advance(self, count: int) -> None:
        self.done += count
        share = min(self.done / self.total, 1.0) if self.total else 1.0
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        filled = int(share * self.WIDTH)
        line = (
            f"{self.label:<8} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{self.done}/{self.total} {share:4.0%} {rate:,.0f}/s"
        )
        if self.tty:
            self.out.write("\r" + line, ending="")
            self.out.flush()
        elif int(share * 10) > self.reported_tenth:
            self.reported_tenth = int(share * 10)
            self.out.write(line)

    def finish(self) -> float:
        elapsed = time.monotonic() - self.started
        if self.tty:
            self.out.write("")
        return elapsed


class Command(BaseCommand):
    help = "Rebuild the search index from the documents of every app (or one), in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--app", action="append", default=[], help="Only this app's documents (repeatable)."
        )
        parser.add_argument(
            "--backend", default=None, help="The backend to fill (default: the configured one)."
        )
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="Documents per batch (default 1000)."
        )
        parser.add_argument("--clear", action="store_true", help="Empty the kinds being rebuilt first.")
        parser.add_argument(
            "--if-empty", action="store_true", help="Only when the index holds no document (a first start)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["backend"] and options["backend"] not in backend_names():
            raise CommandError(
                f"Unknown backend {options['backend']!r}; known: {', '.join(backend_names())}."
            )
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        chosen = sources()
        if options["app"]:
            chosen = tuple(source for source in chosen if source.app in options["app"])
            unknown = set(options["app"]) - {source.app for source in chosen}
            if unknown:
                known = sorted({source.app for source in sources()})
                raise CommandError(
                    f"No documents from {', '.join(sorted(unknown))}; apps: {', '.join(known)}."
                )
        backend = get_backend(options["backend"])
        try:
            backend.ensure()
            if options["if_empty"] and any(backend.stats().documents.values()):
                self.stdout.write(f"The {backend.name} index has documents: nothing to do.")
                return
        except SearchUnavailable as error:
            if options["if_empty"]:  # a start of the site does not wait for the search server
                self.stderr.write(f"The {backend.name} backend does not answer ({error}): not indexed.")
                return
            raise CommandError(f"The {backend.name} backend does not answer: {error}") from error
        for source in chosen:
            if options["clear"]:
                backend.clear(source.kind)
            progress = Progress(self.stderr, source.kind, source.count())
            written = 0
            for batch in source.batches(options["batch_size"]):
                written += backend.index(batch)
                progress.advance(len(batch))
            elapsed = progress.finish()
            self.stdout.write(
                f"{source.kind}: {written} documents from the {source.app} app"
                f" into {backend.name} in {elapsed:.1f} s"
            )
        # A backend may tidy up after a bulk load (PostgreSQL: fresh planner statistics).
        after_rebuild = getattr(backend, "after_rebuild", None)
        if callable(after_rebuild):
            after_rebuild()
