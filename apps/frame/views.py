"""Pages of the frame app: the catalogue (/frames/), the member's frames (/frames/mine/), buying one
(a POST that sends the member to the payment app's checkout page), wearing one or none, and the
frames' pictures. Every page works without JavaScript: plain links and POST forms; a refusal comes
back on the page with its status (403, 404, 409, 503), never a 500."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from apps.frame import services
from forum.errors import ApplicationError, NotFound
from forum.uploads import serve_download


def _viewer_id(request: HttpRequest) -> int | None:
    return int(request.user.pk) if request.user.is_authenticated and request.user.pk is not None else None


def _member_id(request: HttpRequest) -> int:
    assert request.user.pk is not None, "login_required lets only members in"
    return int(request.user.pk)


def price_label(price_sats: int) -> str:
    # The same words as the status app's shop and the checkout (one entry in the catalogue).
    return ngettext("%(sats)s satoshi", "%(sats)s satoshis", price_sats) % {
        "sats": number_format(price_sats, force_grouping=True)
    }


def left_label(left: int) -> str:
    return ngettext("%(count)s left", "%(count)s left", left) % {
        "count": number_format(left, force_grouping=True)
    }


@dataclass(frozen=True)
class _Shown:
    """A frame with the words the page shows for it."""

    frame: services.FrameRef
    price: str
    left: str
    owned: bool = False
    equipped: bool = False
    refusal: str = ""
    source: str = ""


def _catalogue_rows(viewer_id: int | None) -> list[_Shown]:
    return [
        _Shown(
            frame=entry.frame,
            price=price_label(entry.frame.price_sats),
            left=left_label(entry.frame.left) if entry.frame.left is not None else "",
            owned=entry.owned,
            equipped=entry.equipped,
            refusal=entry.refusal,
        )
        for entry in services.frame_catalogue(viewer_id=viewer_id)
    ]


def catalogue(request: HttpRequest, error: ApplicationError | None = None) -> HttpResponse:
    context = {"frames": _catalogue_rows(_viewer_id(request)), "error": error.message if error else ""}
    return render(request, "frame/catalogue.html", context, status=error.status if error else 200)


@login_required
@require_POST
def buy(request: HttpRequest, frame_id: int) -> HttpResponseBase:
    try:
        purchase = services.frame_buy(member_id=_member_id(request), frame_id=frame_id)
    except ApplicationError as error:
        return catalogue(request, error)
    return redirect(purchase.checkout_url)


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    rows = [
        _Shown(
            frame=owned.frame,
            price=price_label(owned.frame.price_sats),
            left="",
            owned=True,
            equipped=owned.equipped,
            source=owned.source,
        )
        for owned in services.frames_owned(member_id=_member_id(request))
    ]
    return render(
        request, "frame/mine.html", {"frames": rows, "wears_one": any(row.equipped for row in rows)}
    )


@login_required
@require_POST
def equip(request: HttpRequest) -> HttpResponseBase:
    member_id = _member_id(request)
    choice = request.POST.get("frame", "")
    if choice in {"", "none"}:
        if services.frame_unequip(member_id=member_id):
            messages.success(request, _("You wear no frame now."))
        return redirect("frame:mine")
    if not choice.isdigit():
        raise NotFound(_("You do not own this frame."))
    equipped = services.frame_equip(member_id=member_id, frame_id=int(choice))
    messages.success(request, _("You wear the frame “%(name)s” now.") % {"name": equipped.name})
    return redirect("frame:mine")


def image(request: HttpRequest, frame_id: int, version: str, extension: str) -> HttpResponseBase:
    """A frame's picture, for anyone (frames are public decoration)."""
    found = services.frame_image_file(frame_id=frame_id, version=version)
    if not found.filename.endswith("." + extension):
        raise NotFound(_("There is no such frame."))
    response = serve_download(
        request,
        storage_key=found.storage_key,
        content_type=found.content_type,
        filename=found.filename,
        as_attachment=False,
        public=True,
    )
    if found.content_type == services.SVG_TYPE:
        # Sanitised already; should anyone open it as a document, it still runs nothing and loads nothing.
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    # The URL carries the picture's version: a new picture is a new URL.
    response["Cache-Control"] = "public, max-age=86400, immutable"
    return response
