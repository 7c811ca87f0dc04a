"""What the search page and the search API share: reading the filters, building the query and the
viewer's scope, and naming the authors and forums of a page of hits.

The surfaces live in the kernel beside the interface because they use nothing but it: the scope
comes from the forum directory the thread app registers, names from the member documents the user
app registers (forum.search.base). A search costs a constant number of queries whatever it finds:
the viewer's forums (with their permissions), the counts, the page, the authors' names.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from forum import versioned_cache
from forum.paging import PAGE_NUMBER_MAX
from forum.search.base import (
    INDEX_SCOPE,
    KIND_MEMBER,
    KIND_MESSAGE,
    KIND_POST,
    KIND_THREAD,
    ForumChoice,
    Hit,
    SearchQuery,
    SearchResult,
    SearchScope,
    forum_choices,
    get_backend,
    scope_for,
    source_for,
)

QUERY_MAX_LENGTH = 200
PER_PAGE = 20
LOOKUP_LIMIT = 8
# The tabs of the results page and the kinds of the API, in the order shown.
TABS: tuple[str, ...] = (KIND_POST, KIND_THREAD, KIND_MEMBER, KIND_MESSAGE)


class _ForumField(forms.TypedChoiceField):
    """The forum filter: one of the forums the viewer may read. Checked against their ids, not against
    choices (the page writes its own options): normalizing two dozen choices on every search cost more
    than the check."""

    allowed: frozenset[str] = frozenset()

    def valid_value(self, value: Any) -> bool:
        return str(value) in self.allowed


class SearchForm(forms.Form):
    """The filters of a search, from a query string (the page's GET form and the API alike)."""

    q = forms.CharField(label=_("Search for"), max_length=QUERY_MAX_LENGTH, required=False, strip=True)
    kind = forms.ChoiceField(
        label=_("Kind"),
        required=False,
        choices=[
            (KIND_POST, _("Posts")),
            (KIND_THREAD, _("Threads")),
            (KIND_MEMBER, _("Members")),
            (KIND_MESSAGE, _("Messages")),
        ],
    )
    forum = _ForumField(label=_("Forum"), required=False, coerce=int, empty_value=None)
    author = forms.CharField(label=_("Author"), max_length=150, required=False, strip=True)
    date_from = forms.DateField(
        label=pgettext_lazy("dates", "From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=pgettext_lazy("dates", "To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    attachments = forms.BooleanField(label=_("With attachments"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[("relevance", _("Relevance")), ("date", _("Newest first"))],
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=PAGE_NUMBER_MAX)

    def __init__(self, data: Any, *, forums: Sequence[ForumChoice], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.forums = {forum.id: forum for forum in forums}
        # The fields are shared with the class (see _SharedFields) but for this one, given its own ids.
        forum_field = copy.copy(self.fields["forum"])
        assert isinstance(forum_field, _ForumField)
        forum_field.allowed = frozenset(str(forum_id) for forum_id in self.forums)
        self.fields["forum"] = forum_field

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date comes before the start date."))
        return cleaned


class _SharedFields(dict[str, forms.Field]):
    """A form's fields that each instance shares rather than deep-copies (Django copies every field,
    its widget and its choices for every form: a third of reading a search's filters). Safe for a
    form whose fields are never changed once built and whose widgets are never rendered: the page
    and the API only validate with it."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, forms.Field]:
        return dict(self)


SearchForm.base_fields = _SharedFields(SearchForm.base_fields)


@dataclasses.dataclass(frozen=True)
class Found:
    """A page of results with what pages and the API show beside each hit."""

    query: SearchQuery
    result: SearchResult
    authors: Mapping[int, str]  # member id -> username
    forums: Mapping[int, str]  # forum id -> name

    @property
    def hits(self) -> tuple[Hit, ...]:
        return self.result.hits


def viewer_scope(user: Any) -> tuple[SearchScope, Sequence[ForumChoice]]:
    """The scope of the request's user (a guest when not signed in) and the forums they may read."""
    viewer_id = int(user.pk) if getattr(user, "is_authenticated", False) else None
    forums = forum_choices(viewer_id)
    return scope_for(viewer_id, is_staff=bool(getattr(user, "is_staff", False)), forums=forums), forums


def tabs_for(scope: SearchScope) -> tuple[str, ...]:
    """The kinds a viewer may search: a guest has no dialogs."""
    return tuple(kind for kind in TABS if kind != KIND_MESSAGE or scope.viewer_id is not None)


def member_id_named(username: str, scope: SearchScope) -> int | None:
    """The member whose username is ``username`` (any case), found in the index, or None."""
    query = SearchQuery(text=username, kinds=(KIND_MEMBER,), per_page=LOOKUP_LIMIT, counted=False)
    for hit in get_backend().search(query, scope).hits:
        if hit.document.title.casefold() == username.casefold():
            return hit.id
    return None


def query_from(form: SearchForm, *, author_id: int | None, count_kinds: Sequence[str] = ()) -> SearchQuery:
    """The query a valid form asks for; ``author_id`` already resolved from its ``author``.

    Only the kind searched is counted, unless ``count_kinds`` names more (the API's ``counts``): the
    other tabs' counts were a quarter of a common word's search in PostgreSQL (see docs/search.md)."""
    data = form.cleaned_data
    kind = data.get("kind") or KIND_POST
    forum_id = data.get("forum")
    subtree = form.forums[forum_id].subtree if forum_id in form.forums else None
    return SearchQuery(
        text=data.get("q") or "",
        kinds=(kind,),
        forum_ids=subtree,
        author_id=author_id,
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
        with_attachments=bool(data.get("attachments")),
        sort="date" if data.get("sort") == "date" else "relevance",
        page=data.get("page") or 1,
        per_page=PER_PAGE,
        count_kinds=tuple(k for k in TABS if k in count_kinds and k != kind),
    )


def _searched(query: SearchQuery, scope: SearchScope) -> tuple[SearchResult, dict[int, str]]:
    """The backend's answer and the authors of its hits: as the backend read them (PostgreSQL: from
    the member documents, in the same statement), else through the member source (one query)."""
    result = get_backend().search(query, scope)
    authors: dict[int, str] = {}
    for hit in result.hits:
        if hit.document.author_id and hit.author_name is not None:
            authors[hit.document.author_id] = hit.author_name
    author_ids = sorted(
        {hit.document.author_id for hit in result.hits if hit.document.author_id} - set(authors)
    )
    if author_ids:
        try:
            members = source_for(KIND_MEMBER).fetch(author_ids)
        except LookupError:  # no app registers members: hits go unnamed
            members = {}
        authors.update({member_id: doc.title for member_id, doc in members.items() if doc is not None})
    return result, authors


def _seen_as(query: SearchQuery, scope: SearchScope) -> tuple[object, ...]:
    """Everything of the viewer that decides what ``query`` finds: the forums they may read, whether
    hidden members are shown (staff), and the viewer themself only when their dialogs are searched or
    counted (a member's messages are theirs alone; posts and threads are shared by one reading set)."""
    private = KIND_MESSAGE in (*query.effective_kinds(), *query.count_kinds)
    return (
        tuple(sorted(scope.readable_forum_ids)),
        scope.is_staff,
        scope.viewer_id if private else None,
    )


def run(query: SearchQuery, scope: SearchScope, forums: Sequence[ForumChoice]) -> Found:
    """Search, and name the page's authors.

    With a backend whose writes are searchable once they commit (``keeps_results``: PostgreSQL), the
    answer is kept (forum.versioned_cache, in the process too) for the same query asked with the same
    reading rights, until the index's next write moves ``INDEX_SCOPE``: a new post, an edit, a hidden
    or deleted one is searched for at once. (Meilisearch applies writes later, as tasks: searched each
    time.)"""
    if settings.SEARCH_KEEP_RESULTS and getattr(get_backend(), "keeps_results", False):
        result, authors = versioned_cache.kept(
            "search.results",
            (dataclasses.astuple(query), _seen_as(query, scope)),
            (INDEX_SCOPE,),
            lambda: _searched(query, scope),
            local=True,
        )
    else:
        result, authors = _searched(query, scope)
    return Found(query=query, result=result, authors=authors, forums={f.id: f.name for f in forums})


def members_lookup(text: str, scope: SearchScope, *, limit: int = LOOKUP_LIMIT) -> tuple[Hit, ...]:
    """Members whose name starts like ``text`` or nearly matches it, best first (for @mentions and
    the recipients of a new dialog)."""
    if not text.strip():
        return ()
    query = SearchQuery(
        text=text.strip()[:QUERY_MAX_LENGTH], kinds=(KIND_MEMBER,), per_page=limit, counted=False
    )
    return get_backend().search(query, scope).hits
