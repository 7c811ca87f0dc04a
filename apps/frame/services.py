"""Published interface of the frame app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

Frames are decoration: owning or wearing one grants no permission and no status. Each frame on sale
is a product of the payment app (``frame:<frame id>``); ``frame_buy`` makes the invoice (after the
holders-only and sold-out checks, taking a unit of a limited edition), and the payment app's
``payment.invoice_settled`` event fulfils it once (``purchase_fulfil``); ``payment.invoice_expired``
and ``payment.invoice_invalid`` give the unit back (``purchase_release``). Pages showing avatars ask
``equipped_frames_for`` (through ``apps.user.services.profiles_for``) once for a whole page.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.frame import selectors
from apps.frame.events import FrameBought, FrameEquipped, FrameGranted, FrameUnequipped
from apps.frame.models import (
    NAME_MAX_LENGTH,
    Frame,
    FrameOwnership,
    FramePurchase,
    OwnershipSource,
    PurchaseState,
)
from apps.frame.svg import looks_like_svg, sanitize_svg
from apps.payment.services import invoice_create, invoice_get, product_register
from apps.status.services import status_catalogue, statuses_held_by
from forum.bus import publish
from forum.errors import Conflict, Forbidden, NotFound, ValidationFailed
from forum.uploads import UploadPolicy, accept_upload, default_policy, delete_upload, policy_storage

__all__ = [
    "FRAME_IMAGE_MAX_BYTES",
    "PRODUCT_APP",
    "CatalogueEntry",
    "EquippedFrame",
    "FrameImage",
    "FramePurchaseRef",
    "FrameRef",
    "OwnedFrame",
    "StoredImage",
    "equipped_frames_for",
    "frame_buy",
    "frame_catalogue",
    "frame_create",
    "frame_equip",
    "frame_get",
    "frame_grant",
    "frame_image_delete",
    "frame_image_file",
    "frame_image_store",
    "frame_picture_url",
    "frame_product_sync",
    "frame_unequip",
    "frames_owned",
    "purchase_fulfil",
    "purchase_release",
]

logger = logging.getLogger(__name__)

PRODUCT_APP = "frame"
FRAME_IMAGE_MAX_BYTES = 1024 * 1024
FRAME_IMAGE_TYPES = frozenset({"image/png", "image/webp"})
SVG_TYPE = "image/svg+xml"
_MAX_ID = 2**63 - 1
# Invoice states in which an open purchase still stands for the member (paid or payable).
_STANDING_STATES = frozenset({"new", "processing", "settled"})


# --- Plain data -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EquippedFrame:
    """The frame a member wears, as pages draw it around their avatar."""

    frame_id: int
    name: str
    image_url: str

    @property
    def code(self) -> str:
        return f"frame-{self.frame_id}"


@dataclass(frozen=True)
class FrameRef:
    id: int
    name: str
    image_url: str
    price_sats: int
    holders_only_status: str  # a status code, "" for everyone
    holders_only_name: str  # that status's name in the active language, "" for everyone
    left: int | None  # None: not a limited edition
    active: bool

    @property
    def sold_out(self) -> bool:
        return self.left is not None and self.left <= 0

    @property
    def code(self) -> str:
        return f"frame-{self.id}"


@dataclass(frozen=True)
class CatalogueEntry:
    """A frame on sale as a viewer sees it: whether they own or wear it and whether they may buy it."""

    frame: FrameRef
    owned: bool
    equipped: bool
    # "" when the viewer may buy it; else why not: owned, sold_out, holders_only, guest.
    refusal: str

    @property
    def can_buy(self) -> bool:
        return not self.refusal


@dataclass(frozen=True)
class OwnedFrame:
    frame: FrameRef
    source: str  # bought or granted
    equipped: bool
    since: datetime.datetime


@dataclass(frozen=True)
class FramePurchaseRef:
    """An invoice for a frame: where the member pays it. ``reused`` when it is the member's invoice
    for this frame still waiting or paid, rather than a new one."""

    invoice_id: str
    checkout_url: str
    frame_id: int
    amount_sats: int
    reused: bool


@dataclass(frozen=True)
class StoredImage:
    image_key: str
    display_key: str
    image_type: str


@dataclass(frozen=True)
class FrameImage:
    storage_key: str
    content_type: str
    filename: str


# --- Helpers --------------------------------------------------------------------------------------------


def _valid_id(value: int) -> bool:
    return 0 < value <= _MAX_ID


def _version(display_key: str) -> str:
    return display_key.rsplit("/", 1)[-1].split(".", 1)[0]


def _extension(image_type: str) -> str:
    return "svg" if image_type == SVG_TYPE else "webp"


def frame_picture_url(*, frame_id: int, display_key: str, image_type: str) -> str:
    """The URL of a frame's picture (its version in it: a new picture is a new URL); "" for none."""
    return _image_url(frame_id, display_key, image_type)


def _image_url(frame_id: int, display_key: str, image_type: str) -> str:
    if not display_key:
        return ""
    return reverse(
        "frame:image",
        kwargs={"frame_id": frame_id, "version": _version(display_key), "extension": _extension(image_type)},
    )


def _frame_ref(row: dict[str, Any], status_names: dict[str, str], prefix: str = "") -> FrameRef:
    def get(name: str) -> Any:
        return row[prefix + name]

    code = str(get("holders_only_status") or "")
    return FrameRef(
        id=int(get("id")),
        name=str(get("name")),
        image_url=_image_url(int(get("id")), str(get("display_key")), str(get("image_type"))),
        price_sats=int(get("price_sats")),
        holders_only_status=code,
        holders_only_name=status_names.get(code, code) if code else "",
        left=get("left"),
        active=bool(get("active")),
    )


def _status_names(codes: Collection[str]) -> dict[str, str]:
    """Names of the statuses some frames are reserved to (one query, none when no frame is)."""
    if not any(codes):
        return {}
    return {status.code: status.name for status in status_catalogue()}


def _checkout_url(invoice_id: str) -> str:
    """The payment app's checkout page of an invoice (``payment:checkout``, ``/pay/<id>/``)."""
    try:
        return reverse("payment:checkout", args=[invoice_id])
    except NoReverseMatch:
        return f"/pay/{quote(invoice_id, safe='')}/"


def _holds(member_id: int, status_code: str) -> bool:
    return status_code in statuses_held_by(user_ids=[member_id]).get(member_id, [])


# --- The catalogue (staff) ------------------------------------------------------------------------------


def frame_image_policy() -> UploadPolicy:
    """PNG or WebP, at most 1 MB, public media under frames/ (anyone may see a frame)."""
    return default_policy(
        max_bytes=FRAME_IMAGE_MAX_BYTES,
        allowed_types=FRAME_IMAGE_TYPES,
        prefix="frames",
        public=True,
        thumbnail_size=320,
    )


def frame_image_store(*, file: UploadedFile[bytes] | IO[bytes], filename: str) -> StoredImage:
    """Checks and stores a frame's image: PNG or WebP through forum.uploads (re-encoded, with a WebP
    picture to draw), or an SVG rebuilt by the allow-list sanitiser (apps/frame/svg.py). Refusals
    are ``ValidationFailed`` under the field ``image``."""
    if hasattr(file, "seek"):
        file.seek(0)
    head = file.read(FRAME_IMAGE_MAX_BYTES + 1)
    if isinstance(head, str):  # a text stream: SVG written by hand
        head = head.encode("utf-8")
    if looks_like_svg(head):
        if len(head) > FRAME_IMAGE_MAX_BYTES:
            message = _("A frame's image may be at most 1 MB.")
            raise ValidationFailed(message, code="file_too_large", status=413, fields={"image": [message]})
        clean = sanitize_svg(head)
        policy = frame_image_policy()
        now = timezone.now()
        key = policy_storage(policy).save(
            f"{policy.prefix}/{now:%Y/%m}/{_random_name()}.svg", ContentFile(clean)
        )
        return StoredImage(image_key=key, display_key=key, image_type=SVG_TYPE)
    accepted = accept_upload(
        ContentFile(head), filename=filename, policy=frame_image_policy(), field_name="image"
    )
    if not accepted.thumbnail_key:  # every accepted image has one; anything else is a policy mistake
        delete_upload(accepted.storage_key, public=True)
        message = _("A frame's image must be PNG, WebP or SVG.")
        raise ValidationFailed(message, code="file_type_not_allowed", fields={"image": [message]})
    return StoredImage(
        image_key=accepted.storage_key, display_key=accepted.thumbnail_key, image_type=accepted.content_type
    )


def _random_name() -> str:
    return uuid.uuid4().hex


def frame_image_delete(*, image: StoredImage) -> None:
    """Deletes a stored image's files (a frame's old picture once the new one is saved)."""
    keys = {image.image_key, image.display_key} - {""}
    delete_upload(*sorted(keys), public=True)


def frame_product_sync(*, frame_id: int) -> None:
    """Registers the frame as the payment app's product ``frame:<id>``, on sale while the frame is
    active and not sold out (the payment app's own invoice endpoint then refuses it too)."""
    frame = Frame.objects.filter(pk=frame_id).values("name", "price_sats", "active", "left").first()
    if frame is None:
        return
    on_sale = bool(frame["active"]) and (frame["left"] is None or frame["left"] > 0)
    product_register(
        app_label=PRODUCT_APP,
        code=str(frame_id),
        title=_product_title(str(frame["name"])),
        price_sats=int(frame["price_sats"]),
        active=on_sale,
    )


def _product_title(name: str) -> str:
    return f"Frame: {name}"[:200]


def _check_fields(*, name: str, price_sats: int, left: int | None) -> None:
    problems: dict[str, list[str]] = {}
    if not name.strip() or len(name) > NAME_MAX_LENGTH:
        problems["name"] = [_("Give the frame a name of at most 80 characters.")]
    if not isinstance(price_sats, int) or isinstance(price_sats, bool) or price_sats <= 0:
        problems["price_sats"] = [_("A price is a whole positive number of satoshis.")]
    if left is not None and (not isinstance(left, int) or left < 0):
        problems["left"] = [_("The number left is a whole number, 0 or more.")]
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], fields=problems)


def frame_create(
    *,
    name: str,
    price_sats: int,
    image: UploadedFile[bytes] | IO[bytes],
    filename: str,
    holders_only_status: str = "",
    left: int | None = None,
    active: bool = True,
    position: int = 0,
) -> FrameRef:
    """A new frame in the catalogue, registered as a product; its image is checked and stored first."""
    _check_fields(name=name, price_sats=price_sats, left=left)
    stored = frame_image_store(file=image, filename=filename)
    try:
        with transaction.atomic():
            frame = Frame.objects.create(
                name=name.strip(),
                price_sats=price_sats,
                holders_only_status=holders_only_status,
                left=left,
                active=active,
                position=position,
                image_key=stored.image_key,
                display_key=stored.display_key,
                image_type=stored.image_type,
            )
            frame_product_sync(frame_id=frame.pk)
    except Exception:
        frame_image_delete(image=stored)
        raise
    return frame_get(frame_id=frame.pk)


def frame_get(*, frame_id: int) -> FrameRef:
    row = selectors.frame_row(frame_id=frame_id) if _valid_id(frame_id) else None
    if row is None:
        raise NotFound(_("There is no such frame."))
    return _frame_ref(row, _status_names([row["holders_only_status"]]))


def frame_image_file(*, frame_id: int, version: str) -> FrameImage:
    """The picture pages draw of a frame (any frame, on sale or not: members may wear withdrawn ones);
    ``NotFound`` for an unknown frame or a version that is not its current picture."""
    row = (
        Frame.objects.filter(pk=frame_id).values("name", "display_key", "image_type").first()
        if _valid_id(frame_id)
        else None
    )
    if row is None or not row["display_key"] or _version(str(row["display_key"])) != version:
        raise NotFound(_("There is no such frame."))
    content_type = SVG_TYPE if row["image_type"] == SVG_TYPE else "image/webp"
    return FrameImage(
        storage_key=str(row["display_key"]),
        content_type=content_type,
        filename=f"frame-{frame_id}.{_extension(str(row['image_type']))}",
    )


# --- Members: the catalogue, their frames, wearing one ------------------------------------------------------


def frame_catalogue(*, viewer_id: int | None) -> list[CatalogueEntry]:
    """The frames on sale, with what the viewer owns and wears and why they may not buy one: at most
    four queries (frames, the viewer's frames, their statuses, the statuses' names)."""
    rows = selectors.frames_listed()
    names = _status_names([row["holders_only_status"] for row in rows])
    owned = selectors.ownerships_of(member_id=viewer_id) if viewer_id else {}
    held: list[str] = []
    if viewer_id and any(row["holders_only_status"] for row in rows):
        held = statuses_held_by(user_ids=[viewer_id]).get(viewer_id, [])
    entries = []
    for row in rows:
        frame = _frame_ref(row, names)
        mine = owned.get(frame.id)
        if viewer_id is None:
            refusal = "guest"
        elif mine is not None:
            refusal = "owned"
        elif frame.holders_only_status and frame.holders_only_status not in held:
            refusal = "holders_only"
        elif frame.sold_out:
            refusal = "sold_out"
        else:
            refusal = ""
        entries.append(
            CatalogueEntry(
                frame=frame,
                owned=mine is not None,
                equipped=bool(mine and mine["equipped"]),
                refusal=refusal,
            )
        )
    return entries


def frames_owned(*, member_id: int) -> list[OwnedFrame]:
    """The member's frames, oldest first (one query, and one more for statuses' names when needed)."""
    rows = selectors.owned_frames(member_id=member_id)
    names = _status_names([row["frame__holders_only_status"] for row in rows])
    return [
        OwnedFrame(
            frame=_frame_ref(row, names, prefix="frame__"),
            source=str(row["source"]),
            equipped=bool(row["equipped"]),
            since=row["created_at"],
        )
        for row in rows
    ]


def equipped_frames_for(*, user_ids: Collection[int]) -> dict[int, EquippedFrame]:
    """The frame each member among ``user_ids`` wears (members wearing none are left out), for a whole
    page of avatars in ONE query (none when ``user_ids`` is empty)."""
    wanted = [user_id for user_id in dict.fromkeys(user_ids) if _valid_id(user_id)]
    if not wanted:
        return {}
    return {
        member_id: EquippedFrame(
            frame_id=frame_id, name=name, image_url=_image_url(frame_id, display_key, image_type)
        )
        for member_id, frame_id, name, display_key, image_type in selectors.equipped_rows(user_ids=wanted)
        if display_key
    }


def frame_equip(*, member_id: int, frame_id: int) -> EquippedFrame:
    """The member wears one of their frames (and no other); ``NotFound`` for a frame they do not own.
    Publishes ``frame.equipped`` when it changes what they wear."""
    with transaction.atomic():
        # Their frames locked: two concurrent changes queue instead of tripping the one-worn index.
        mine = list(
            FrameOwnership.objects.select_for_update().filter(member_id=member_id).select_related("frame")
        )
        chosen = next((row for row in mine if row.frame_id == frame_id), None)
        if chosen is None:
            raise NotFound(_("You do not own this frame."))
        previous = next((row for row in mine if row.equipped), None)
        if previous is not chosen:
            if previous is not None:
                previous.equipped = False
                previous.save(update_fields=["equipped"])
            chosen.equipped = True
            chosen.save(update_fields=["equipped"])
            publish(
                FrameEquipped(
                    frame_id=frame_id,
                    member_id=member_id,
                    previous_frame_id=previous.frame_id if previous is not None else None,
                )
            )
        frame = chosen.frame
    return EquippedFrame(
        frame_id=frame.pk,
        name=frame.name,
        image_url=_image_url(frame.pk, frame.display_key, frame.image_type),
    )


def frame_unequip(*, member_id: int) -> bool:
    """The member wears no frame; True when they wore one (then ``frame.unequipped`` is published)."""
    with transaction.atomic():
        worn = FrameOwnership.objects.select_for_update().filter(member_id=member_id, equipped=True).first()
        if worn is None:
            return False
        worn.equipped = False
        worn.save(update_fields=["equipped"])
        publish(FrameUnequipped(frame_id=worn.frame_id, member_id=member_id))
    return True


def frame_grant(*, frame_id: int, member_id: int, granted_by: int | None) -> bool:
    """Staff give a member a frame (on sale or not, whatever its rules); True when it is new to them."""
    if not Frame.objects.filter(pk=frame_id).exists():
        raise NotFound(_("There is no such frame."))
    with transaction.atomic():
        _ownership, created = FrameOwnership.objects.get_or_create(
            member_id=member_id,
            frame_id=frame_id,
            defaults={
                "source": OwnershipSource.GRANTED,
                "granted_by_id": granted_by,
                "created_at": timezone.now(),
            },
        )
        if created:
            publish(FrameGranted(frame_id=frame_id, member_id=member_id, granted_by=granted_by))
    return created


# --- Buying -----------------------------------------------------------------------------------------------


def _standing_purchase(member_id: int, frame_id: int) -> FramePurchaseRef | None:
    """The member's open invoice for this frame when it still stands (payable, paid or being
    confirmed); an open purchase whose invoice expired meanwhile is released here."""
    for purchase in FramePurchase.objects.filter(
        member_id=member_id, frame_id=frame_id, state=PurchaseState.OPEN
    ):
        try:
            invoice = invoice_get(public_id=purchase.invoice_id, viewer_id=member_id)
        except NotFound:
            invoice = None
        if invoice is not None and invoice.state in _STANDING_STATES:
            return FramePurchaseRef(
                invoice_id=invoice.public_id,
                checkout_url=_checkout_url(invoice.public_id),
                frame_id=frame_id,
                amount_sats=invoice.amount_sats,
                reused=True,
            )
        purchase_release(invoice_id=purchase.invoice_id)
    return None


def frame_buy(*, member_id: int, frame_id: int) -> FramePurchaseRef:
    """An invoice for a frame, to pay on the checkout page. Refused: a frame not on sale (404), one the
    member owns (409 ``frame_owned``), one for holders of a status they lack (403 ``holders_only``),
    a sold-out edition (409 ``sold_out``); payments not set up (503, from the payment app). A member
    with an invoice for this frame still waiting or paid gets that one again. A limited edition's
    unit is taken in the same transaction as the invoice is made."""
    frame = Frame.objects.filter(pk=frame_id, active=True).first() if _valid_id(frame_id) else None
    if frame is None:
        raise NotFound(_("This frame is not for sale."))
    if FrameOwnership.objects.filter(member_id=member_id, frame_id=frame_id).exists():
        raise Conflict(_("You own this frame already."), code="frame_owned")
    if frame.holders_only_status and not _holds(member_id, frame.holders_only_status):
        raise Forbidden(_("This frame is only for members holding a certain status."), code="holders_only")
    with transaction.atomic():
        # The frame's row locked: one member's two clicks make one invoice, and units are counted
        # one buyer at a time.
        frame = Frame.objects.select_for_update().get(pk=frame_id)
        standing = _standing_purchase(member_id, frame_id)
        if standing is not None:
            return standing
        holds_unit = False
        if frame.left is not None:
            if frame.left <= 0:
                raise Conflict(_("This frame is sold out."), code="sold_out")
            frame.left -= 1
            frame.save(update_fields=["left", "updated_at"])
            holds_unit = True
        invoice = invoice_create(
            member_id=member_id,
            product_app=PRODUCT_APP,
            product_code=str(frame_id),
            product_ref=str(frame_id),
        )
        FramePurchase.objects.create(
            invoice_id=invoice.public_id,
            member_id=member_id,
            frame_id=frame_id,
            holds_unit=holds_unit,
            created_at=timezone.now(),
        )
        if holds_unit:
            frame_product_sync(frame_id=frame_id)  # the last unit taken: off sale for everyone
    return FramePurchaseRef(
        invoice_id=invoice.public_id,
        checkout_url=_checkout_url(invoice.public_id),
        frame_id=frame_id,
        amount_sats=invoice.amount_sats,
        reused=False,
    )


def purchase_release(*, invoice_id: str) -> bool:
    """An invoice for a frame ended unpaid (expired, cancelled or invalid): its unit of a limited
    edition goes back on sale. True when something was released; idempotent."""
    with transaction.atomic():
        purchase = FramePurchase.objects.select_for_update().filter(invoice_id=invoice_id).first()
        if purchase is None or purchase.state != PurchaseState.OPEN:
            return False
        purchase.state = PurchaseState.RELEASED
        gave_back = purchase.holds_unit
        purchase.holds_unit = False
        purchase.save(update_fields=["state", "holds_unit", "updated_at"])
        if gave_back:
            Frame.objects.filter(pk=purchase.frame_id, left__isnull=False).update(left=F("left") + 1)
            frame_product_sync(frame_id=purchase.frame_id)
    return True


def _frame_id_of(product_code: str) -> int | None:
    return int(product_code) if product_code.isdigit() and _valid_id(int(product_code)) else None


def purchase_fulfil(*, invoice_id: str, member_id: int, product_code: str, paid_sats: int) -> bool:
    """A settled invoice for a frame: the member owns it, once per invoice whatever the retries. An
    invoice made without ``frame_buy`` (the payment API's own endpoint) or released before its late
    payment takes a unit of a limited edition now; none being left, the member still gets what they
    paid for and the overrun is logged for staff. True when this call fulfilled it."""
    frame_id = _frame_id_of(product_code)
    if frame_id is None or not Frame.objects.filter(pk=frame_id).exists():
        logger.error(
            "a settled invoice names no frame", extra={"invoice_id": invoice_id, "code": product_code}
        )
        return False
    with transaction.atomic():
        purchase = FramePurchase.objects.select_for_update().filter(invoice_id=invoice_id).first()
        if purchase is None:
            try:
                with transaction.atomic():
                    purchase = FramePurchase.objects.create(
                        invoice_id=invoice_id,
                        member_id=member_id,
                        frame_id=frame_id,
                        created_at=timezone.now(),
                    )
            except IntegrityError:  # made by a concurrent delivery a moment ago: wait for it
                purchase = FramePurchase.objects.select_for_update().get(invoice_id=invoice_id)
        if purchase.state == PurchaseState.FULFILLED:
            return False
        frame = Frame.objects.select_for_update().get(pk=purchase.frame_id)
        if not purchase.holds_unit and frame.left is not None:
            if frame.left > 0:
                frame.left -= 1
                frame.save(update_fields=["left", "updated_at"])
                frame_product_sync(frame_id=frame.pk)
            else:
                logger.warning(
                    "a limited frame was paid for after it sold out; the member gets it",
                    extra={"invoice_id": invoice_id, "frame_id": frame.pk},
                )
        purchase.state = PurchaseState.FULFILLED
        purchase.holds_unit = False
        purchase.save(update_fields=["state", "holds_unit", "updated_at"])
        _ownership, created = FrameOwnership.objects.get_or_create(
            member_id=purchase.member_id,
            frame_id=frame.pk,
            defaults={
                "source": OwnershipSource.BOUGHT,
                "invoice_id": invoice_id,
                "created_at": timezone.now(),
            },
        )
        if created:
            publish(
                FrameBought(
                    frame_id=frame.pk,
                    member_id=purchase.member_id,
                    invoice_id=invoice_id,
                    paid_sats=paid_sats,
                )
            )
        else:
            logger.warning(
                "a member paid for a frame they already owned",
                extra={"invoice_id": invoice_id, "frame_id": frame.pk},
            )
    return True
