"""The search page, ``/search/``: posts, threads, members and one's own dialog messages, in tabs, with
filters, paging and highlighted snippets. Works without JavaScript (a GET form)."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from forum.fragments import render_fragment
from forum.kept_html import render_kept
from forum.paging import page_number
from forum.search.base import KIND_MEMBER, KIND_MESSAGE, KIND_POST, KIND_THREAD, Hit, SearchUnavailable
from forum.search.service import (
    Found,
    SearchForm,
    member_id_named,
    query_from,
    run,
    tabs_for,
    viewer_scope,
)

# The filters that make a search worth running without words (a member's posts in a forum).
_FILTERS = ("forum", "author", "date_from", "date_to", "attachments")


def _link(params: QueryDict, **changes: object) -> str:
    """The query string of this search with ``changes`` (None removes a parameter), in the order
    ``QueryDict.copy()`` then ``pop`` and set would give, without copying the request's parameters."""
    pairs = [(name, value) for name, values in params.lists() if name not in changes for value in values]
    pairs += [(name, str(value)) for name, value in changes.items() if value is not None]
    return "?" + urlencode(pairs)


_NAMES = {
    KIND_POST: gettext_lazy("Posts"),
    KIND_THREAD: gettext_lazy("Threads"),
    KIND_MEMBER: gettext_lazy("Members"),
    KIND_MESSAGE: gettext_lazy("Your messages"),
}


def _tab_label(kind: str, count: int | None, more: bool) -> str:
    """The tab's name with its count; ``more``: the backend stopped counting at ``count``."""
    if count is None:
        return str(_NAMES[kind])
    # Only the label shown is translated (each ngettext call costs a catalog look-up).
    if more:
        if kind == KIND_POST:
            label = ngettext("more than %(count)d post", "more than %(count)d posts", count)
        elif kind == KIND_THREAD:
            label = ngettext("more than %(count)d thread", "more than %(count)d threads", count)
        elif kind == KIND_MEMBER:
            label = ngettext("more than %(count)d member", "more than %(count)d members", count)
        else:
            label = ngettext(
                "more than %(count)d of your messages", "more than %(count)d of your messages", count
            )
    elif kind == KIND_POST:
        label = ngettext("%(count)d post", "%(count)d posts", count)
    elif kind == KIND_THREAD:
        label = ngettext("%(count)d thread", "%(count)d threads", count)
    elif kind == KIND_MEMBER:
        label = ngettext("%(count)d member", "%(count)d members", count)
    else:
        label = ngettext("%(count)d of your messages", "%(count)d of your messages", count)
    return label % {"count": count}


def _total_label(total: int, more: bool) -> str:
    if more:
        label = ngettext("More than %(count)d result", "More than %(count)d results", total)
    else:
        label = ngettext("%(count)d result", "%(count)d results", total)
    return label % {"count": total}


def _row(hit: Hit, found: Found) -> dict[str, object]:
    document = hit.document
    return {
        "kind": hit.kind,
        "url": document.url,
        "title_html": hit.title_html,
        "snippet_html": hit.snippet_html,
        "body": document.body,
        "author": found.authors.get(document.author_id or 0, ""),
        "forum": found.forums.get(document.forum_id or 0, ""),
        "created_at": document.created_at,
    }


def _row_shape(row: dict[str, object]) -> tuple[object, ...]:
    """What a hit's row shows, for the kept page's key: every value of ``_row`` in its order, the safe
    HTML as plain ``str`` (pickling a SafeString goes through copyreg: it cost more than pickling
    every other value of the page together)."""
    return tuple(str.__str__(value) if isinstance(value, SafeString) else value for value in row.values())


def search_page(request: HttpRequest) -> HttpResponse:
    scope, forums = viewer_scope(request.user)
    asked: QueryDict | None = None
    if request.GET:
        # Pages are forgiving with ?page= (forum.paging): a bad one is the first page.
        asked = request.GET.copy()
        asked["page"] = str(page_number(request.GET.get("page")))
    form = SearchForm(asked, forums=forums)
    tabs = tabs_for(scope)
    context: dict[str, object] = {"problem": ""}
    found: Found | None = None
    kind = request.GET.get("kind") or "post"
    if form.is_bound and form.is_valid():
        data: dict[str, Any] = form.cleaned_data
        kind = data.get("kind") or "post"
        if kind not in tabs:
            form.add_error("kind", _("Sign in to search your dialogs."))
        author_id = None
        if data.get("author") and not form.errors:
            author_id = member_id_named(data["author"], scope)
            if author_id is None:
                form.add_error("author", _("No member has this name."))
        wanted = data.get("q") or any(data.get(name) for name in _FILTERS)
        if wanted and not form.errors:
            query = query_from(form, author_id=author_id)
            try:
                found = run(query, scope, forums)
                if found.result.total == 0:
                    # Only the tab open is counted; when it finds nothing, the others are too, so
                    # that the reader sees where the matches are (a search that found nothing is
                    # cheap to count again: its words are rare).
                    others = tuple(tab for tab in tabs if tab != kind)
                    found = run(dataclasses.replace(query, count_kinds=others), scope, forums)
            except SearchUnavailable:
                context["problem"] = _("Search is not available right now. Please try again in a minute.")
    params = request.GET
    counts = found.result.counts if isinstance(found, Found) else {}
    more = found.result.lower_bounds if isinstance(found, Found) else frozenset()
    context["tabs"] = [
        {
            "kind": tab,
            "url": _link(params, kind=tab, page=None),
            "current": tab == kind,
            "label": _tab_label(tab, counts.get(tab), tab in more),
        }
        for tab in tabs
    ]
    hits: list[dict[str, object]] = []
    if isinstance(found, Found):
        result = found.result
        hits = [_row(hit, found) for hit in found.hits]
        context["total_label"] = _total_label(result.total, result.total_is_lower_bound)
        context["page"] = result.page
        context["pages"] = result.pages
        context["previous_url"] = _link(params, page=result.page - 1) if result.page > 1 else ""
        context["next_url"] = _link(params, page=result.page + 1) if result.page < result.pages else ""
    context["found"] = isinstance(found, Found)
    context["has_hits"] = bool(hits)
    context["kind"] = kind
    raw = {
        name: request.GET.get(name, "") for name in ("q", "forum", "author", "date_from", "date_to", "sort")
    }
    raw["attachments"] = "on" if request.GET.get("attachments") else ""
    errors = {name: [str(message) for message in messages] for name, messages in form.errors.items()}
    context["raw"] = raw
    context["errors"] = errors
    context["filters_open"] = bool(errors) or any(raw[name] for name in (*_FILTERS, "sort"))
    context["forum_options"] = [{"value": "", "label": _("Every forum"), "selected": not raw["forum"]}] + [
        {
            "value": forum.id,
            "label": "\u2003" * forum.depth + forum.name,
            "selected": str(forum.id) == raw["forum"],
        }
        for forum in forums
    ]
    # The page is kept per shape (forum/kept_html.py): everything it shows but the viewer's header and
    # CSRF token, which are filled per request. The hits are rendered only when the shape is new (a
    # Jinja2 fragment: the Django template language cost a few milliseconds for 20 rows).
    shape = (
        tuple(sorted((name, repr(value)) for name, value in context.items())),
        tuple(_row_shape(row) for row in hits),
    )
    context["hits_html"] = lambda: (
        render_fragment("search/_hits.jinja", {"hits": hits}, request) if hits else ""
    )
    return render_kept(request, "search/results.html", context, shape=shape, fillers={})
