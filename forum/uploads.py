"""Uploaded files: content sniffing, limits, metadata stripping, thumbnails, storage and downloads.

The kernel owns the handling that every app with attachments needs (posts now, dialogs later); each
app keeps its own attachment rows and its own permission check, and calls :func:`serve_download`
only after that check has passed. See docs/uploads.md.

Decisions, in short:

- The type is decided from the content's first bytes (:func:`sniff_content_type`); the name's
  extension plays no part, and the stored key and the download name take the sniffed type's extension.
- Still JPEG, PNG and WebP images are decoded and encoded anew, which drops EXIF (GPS positions,
  camera serials), XMP and comments; animated images are kept byte for byte.
- Files live under random keys (``attachments/2026/11/<uuid>.jpg``) in a storage of their own,
  ``STORAGES["private"]`` (:func:`private_storage`): local disk outside MEDIA_ROOT and STATIC_ROOT, or
  an S3 bucket or prefix that is never public. No static or media route reaches them, whatever a
  path's spelling; downloads stream through the app's view, so the permission check stands on every
  fetch and the browser never talks to another origin. Only a policy marked ``public`` (avatars)
  stores in Django's default storage, the public media.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, default_storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from PIL import Image, ImageOps

from forum.errors import Conflict, NotFound, ValidationFailed

R = TypeVar("R")

__all__ = [
    "KNOWN_TYPES",
    "PRIVATE_STORAGE",
    "THUMBNAIL_CONTENT_TYPE",
    "AcceptedUpload",
    "FileType",
    "PrivateFileSystemStorage",
    "UploadPolicy",
    "accept_upload",
    "default_policy",
    "delete_upload",
    "delete_waiting",
    "policy_storage",
    "private_storage",
    "safe_filename",
    "serve_download",
    "sniff_content_type",
    "store_waiting_upload",
]

# The alias in STORAGES of the files that only a view serves, after its permission check.
PRIVATE_STORAGE = "private"


class PrivateFileSystemStorage(FileSystemStorage):
    """Local disk for private uploads (``PRIVATE_MEDIA_ROOT``, outside MEDIA_ROOT): such a file has
    no URL, since a view serves it after its permission check. Django's own storage would make one
    under MEDIA_URL, where nothing serves it (or, worse, something might one day)."""

    def url(self, name: str | None) -> str:
        raise ValueError("a private upload has no URL: the app's view serves it after its permission check")


def private_storage() -> Storage:
    """Where attachments and their thumbnails live: ``STORAGES["private"]``, which no static or media
    route serves."""
    return storages[PRIVATE_STORAGE]


def _storage(storage: Storage | None, *, public: bool) -> Storage:
    if storage is not None:
        return storage
    return default_storage if public else private_storage()


@dataclass(frozen=True)
class FileType:
    """A type the forum can recognise: its MIME type, the extension it is stored under, the names
    a download may keep, and what Pillow calls it (images only)."""

    content_type: str
    extension: str
    label: str | Promise
    extensions: frozenset[str] = field(default_factory=frozenset)
    pillow_format: str | None = None

    @property
    def is_image(self) -> bool:
        return self.pillow_format is not None


# Extensions a plain-text download may keep: harmless to open. Anything else (.html, .svg, .js, .bat,
# .ps1, .hta...) gets ".txt", since a saved file is opened by its extension, not its content.
_TEXT_EXTENSIONS = frozenset(
    (  # noqa: SIM905 - a list of words reads best as words
        "txt text md markdown rst csv tsv log json yaml yml toml ini cfg conf diff patch srt vtt sql "
        "py c h cc cpp hpp java kt rs go rb php pl lua tex"
    ).split()
)

KNOWN_TYPES: dict[str, FileType] = {
    t.content_type: t
    for t in (
        FileType("image/jpeg", "jpg", "JPEG", frozenset({"jpg", "jpeg", "jpe", "jfif"}), "JPEG"),
        FileType("image/png", "png", "PNG", frozenset({"png"}), "PNG"),
        FileType("image/gif", "gif", "GIF", frozenset({"gif"}), "GIF"),
        FileType("image/webp", "webp", "WebP", frozenset({"webp"}), "WEBP"),
        FileType("application/pdf", "pdf", "PDF", frozenset({"pdf"})),
        FileType("application/zip", "zip", "ZIP", frozenset({"zip"})),
        FileType("video/mp4", "mp4", "MP4", frozenset({"mp4", "m4v"})),
        FileType("text/plain", "txt", gettext_lazy("plain text"), _TEXT_EXTENSIONS),
    )
}
THUMBNAIL_CONTENT_TYPE = "image/webp"

# ISO base media brands of MP4 video; HEIF/AVIF images and QuickTime share the box layout and are not
# MP4 to a browser, so they are not recognised.
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash"}
)
# Recognised only to say what a refused file is: a program renamed photo.png deserves a plain answer.
_EXECUTABLE_SIGNATURES = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")
# Control characters other than tab, line feed, form feed and carriage return mark a binary file.
_BINARY_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
_READ_CHUNK = 1024 * 1024


def sniff_content_type(data: bytes) -> str | None:
    """The MIME type the content's magic numbers show, from :data:`KNOWN_TYPES`; None if unknown.

    Plain text is UTF-8 without binary control characters, checked over the whole content.
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    # A local file header, or the end record of an empty archive.
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "application/zip"
    if data[4:8] == b"ftyp" and data[8:12] in _MP4_BRANDS:
        return "video/mp4"
    if data and not data.startswith(_EXECUTABLE_SIGNATURES) and not _BINARY_CONTROL.search(data):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/plain"
    return None


@dataclass(frozen=True)
class UploadPolicy:
    """What an upload may be: its size in bytes, its types (MIME types of :data:`KNOWN_TYPES`),
    the pixels an image may have, the long side of thumbnails, and the key prefix it is stored under."""

    max_bytes: int
    allowed_types: frozenset[str]
    image_max_pixels: int
    thumbnail_size: int = 320
    prefix: str = "attachments"
    # Public media (avatars) go to Django's default storage, which /media/ may serve; everything else
    # to the private storage, which only the app's view reads after its permission check.
    public: bool = False

    def __post_init__(self) -> None:
        unknown = self.allowed_types - KNOWN_TYPES.keys()
        if unknown:
            raise ImproperlyConfigured(
                f"unknown upload types {sorted(unknown)}; known: {sorted(KNOWN_TYPES)}"
            )
        if self.max_bytes < 1 or self.image_max_pixels < 1 or self.thumbnail_size < 1:
            raise ImproperlyConfigured("upload limits must be positive")
        if not re.fullmatch(r"[a-z0-9_-]+(/[a-z0-9_-]+)*", self.prefix):
            raise ImproperlyConfigured(f"upload prefix {self.prefix!r} is not a plain relative path")


def default_policy(**overrides: Any) -> UploadPolicy:
    """The policy of the settings (UPLOAD_MAX_BYTES, UPLOAD_ALLOWED_TYPES, ...), with overrides."""
    values: dict[str, Any] = {
        "max_bytes": settings.UPLOAD_MAX_BYTES,
        "allowed_types": frozenset(settings.UPLOAD_ALLOWED_TYPES),
        "image_max_pixels": settings.UPLOAD_IMAGE_MAX_PIXELS,
        "thumbnail_size": settings.UPLOAD_THUMBNAIL_SIZE,
    }
    values.update(overrides)
    return UploadPolicy(**values)


@dataclass(frozen=True)
class AcceptedUpload:
    """A stored upload, for the app to keep in its own attachment row.

    ``size`` and ``sha256`` are those of the stored bytes (after metadata stripping); ``width`` and
    ``height`` are the image's as shown (EXIF rotation applied), None for other files. The thumbnail,
    for images only, is always :data:`THUMBNAIL_CONTENT_TYPE`.
    """

    storage_key: str
    content_type: str
    size: int
    sha256: str
    original_name: str
    width: int | None = None
    height: int | None = None
    thumbnail_key: str | None = None


def human_size(size: int) -> str:
    """A byte count as people read it: 900 bytes, 512 KB, 10 MB, 2.5 MB."""
    if size < 1024:
        return ngettext("%(count)d byte", "%(count)d bytes", size) % {"count": size}
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            value = f"{size / factor:.1f}".removesuffix(".0")
            return f"{value} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _refuse(message: str, *, field_name: str, code: str = "invalid", status: int = 400) -> ValidationFailed:
    return ValidationFailed(message, code=code, status=status, fields={field_name: [message]})


def _read_limited(file: UploadedFile[bytes] | IO[bytes], limit: int) -> bytes:
    """At most ``limit`` bytes from the start of the file, whatever it claims its size is."""
    if hasattr(file, "seek"):
        # A pipe or a stream that cannot rewind is read from where it is.
        with contextlib.suppress(OSError, ValueError):
            file.seek(0)
    buffer = bytearray()
    while len(buffer) < limit:
        chunk = file.read(min(_READ_CHUNK, limit - len(buffer)))
        if not chunk:
            break
        buffer.extend(chunk)
    return bytes(buffer)


def safe_filename(name: str, *, content_type: str | None = None) -> str:
    """A file name fit to show and to download: no folders, control or direction-changing
    characters, leading dots or runs of spaces, at most 150 characters, and with ``content_type``
    an extension of that type (``photo.jpg`` holding a PDF downloads as ``photo.pdf``)."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    # Cc: controls; Cf: format characters such as U+202E, which shows "gpj.exe" as "exe.jpg".
    name = "".join(" " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch for ch in name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    stem = stem.strip(" .") or "file"
    file_type = KNOWN_TYPES.get(content_type or "")
    if file_type is not None and extension.lower() not in file_type.extensions:
        if file_type.content_type != "text/plain" and extension:
            extension = file_type.extension  # the claimed extension was wrong: replace it
        else:
            stem, extension = (f"{stem}.{extension}" if extension else stem), file_type.extension
    extension = extension[:16]
    stem = stem[: 150 - len(extension) - 1].rstrip(" .") or "file"
    return f"{stem}.{extension}" if extension else stem


def _allowed_labels(policy: UploadPolicy) -> str:
    return ", ".join(
        str(KNOWN_TYPES[t].label) for t in sorted(policy.allowed_types, key=list(KNOWN_TYPES).index)
    )


def policy_storage(policy: UploadPolicy) -> Storage:
    """The storage a policy's uploads live in: the private one unless the policy is ``public``."""
    return _storage(None, public=policy.public)


def _storage_key(policy: UploadPolicy, extension: str) -> str:
    now = timezone.now()
    return f"{policy.prefix}/{now:%Y/%m}/{uuid.uuid4().hex}.{extension}"


@dataclass(frozen=True)
class _Image:
    data: bytes
    width: int
    height: int
    thumbnail: bytes


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or (
        image.mode == "P" and "transparency" in image.info
    )


def _thumbnail(image: Image.Image, size: int) -> bytes:
    # Converted first: a palette image would otherwise be scaled without smoothing.
    if image.mode in {"RGB", "RGBA"}:
        thumb = image.copy()
    else:
        thumb = image.convert("RGBA" if _has_alpha(image) else "RGB")
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=80, method=4)
    return out.getvalue()


def _reencoded(image: Image.Image, pillow_format: str) -> bytes:
    """The pixels alone, in the same format: EXIF, XMP, comments and text chunks stay behind.
    The colour profile is kept, since without it colours shift."""
    clean = image.copy()
    kept = {key: image.info[key] for key in ("icc_profile", "transparency") if key in image.info}
    clean.info = {}
    options: dict[str, Any] = {}
    if "icc_profile" in kept:
        options["icc_profile"] = kept["icc_profile"]
    if pillow_format == "JPEG":
        options.update(quality=90, optimize=True)
    elif pillow_format == "PNG":
        if "transparency" in kept:
            options["transparency"] = kept["transparency"]
    elif pillow_format == "WEBP":
        options.update(quality=90, method=4)
    out = io.BytesIO()
    clean.save(out, format=pillow_format, **options)
    return out.getvalue()


def _process_image(data: bytes, file_type: FileType, policy: UploadPolicy, field_name: str) -> _Image:
    assert file_type.pillow_format is not None
    damaged = _("The image is damaged or not a real %(type)s file.") % {"type": str(file_type.label)}
    try:
        # Only the plugin of the sniffed type may read it: a file is never decoded as another format.
        with Image.open(io.BytesIO(data), formats=[file_type.pillow_format]) as image:
            # Before any pixel is decoded: the header's size is what decoding would allocate.
            if image.width * image.height > policy.image_max_pixels:
                raise _refuse(
                    _(
                        "The image is %(width)d × %(height)d pixels; at most %(limit)s megapixels are "
                        "accepted."
                    )
                    % {
                        "width": image.width,
                        "height": image.height,
                        "limit": f"{policy.image_max_pixels / 1_000_000:g}",
                    },
                    field_name=field_name,
                    code="image_too_large",
                )
            image.load()
            # A phone's multi-picture JPEG (MPO) also says it is "animated": it keeps its first picture.
            animated = bool(getattr(image, "is_animated", False)) and file_type.pillow_format != "JPEG"
            shown = ImageOps.exif_transpose(image)
            if animated or file_type.pillow_format == "GIF":
                stored = data  # animations are kept as they are; GIF carries no camera metadata
            else:
                stored = _reencoded(shown, file_type.pillow_format)
            return _Image(stored, shown.width, shown.height, _thumbnail(shown, policy.thumbnail_size))
    except ValidationFailed:
        raise
    except Image.DecompressionBombError as error:
        # Pillow's own guard fires in open() past twice its MAX_IMAGE_PIXELS (179 megapixels), before
        # the check above can read the size.
        raise _refuse(
            _("The image has too many pixels; at most %(limit)s megapixels are accepted.")
            % {"limit": f"{policy.image_max_pixels / 1_000_000:g}"},
            field_name=field_name,
            code="image_too_large",
        ) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise _refuse(damaged, field_name=field_name, code="image_damaged") from error


def accept_upload(
    file: UploadedFile[bytes] | IO[bytes],
    *,
    filename: str,
    policy: UploadPolicy | None = None,
    storage: Storage | None = None,
    field_name: str = "file",
) -> AcceptedUpload:
    """Checks an upload against the policy and stores it; raises ValidationFailed (a clear 4xx, the
    message under ``field_name``) when it is empty, too large, of a type not allowed, or an image
    that is damaged or has too many pixels.

    Reads at most ``max_bytes + 1`` bytes, whatever the file claims. The stored key is random and
    carries the sniffed type's extension; ``filename`` only becomes the (cleaned) name to show.
    The caller deletes the files with :func:`delete_upload` if its own row is not saved after all.
    Stored in ``storage`` if given, else in :func:`policy_storage` (private unless ``policy.public``).
    """
    policy = policy or default_policy()
    storage = storage or policy_storage(policy)
    data = _read_limited(file, policy.max_bytes + 1)
    if not data:
        raise _refuse(_("The file is empty."), field_name=field_name, code="file_empty")
    if len(data) > policy.max_bytes:
        raise _refuse(
            _("The file is larger than %(limit)s, the most an upload may be.")
            % {"limit": human_size(policy.max_bytes)},
            field_name=field_name,
            code="file_too_large",
            status=413,
        )
    content_type = sniff_content_type(data)
    if content_type is None or content_type not in policy.allowed_types:
        if data.startswith(_EXECUTABLE_SIGNATURES):
            what = _("This file is a program")
        elif content_type is None:
            what = _("This file's type is not recognised")
        else:
            what = _("This file is %(type)s") % {"type": str(KNOWN_TYPES[content_type].label)}
        raise _refuse(
            _("%(what)s; accepted are: %(types)s.") % {"what": what, "types": _allowed_labels(policy)},
            field_name=field_name,
            code="file_type_not_allowed",
        )
    file_type = KNOWN_TYPES[content_type]

    width = height = None
    thumbnail: bytes | None = None
    if file_type.is_image:
        image = _process_image(data, file_type, policy, field_name)
        data, width, height, thumbnail = image.data, image.width, image.height, image.thumbnail

    key = storage.save(_storage_key(policy, file_type.extension), ContentFile(data))
    thumbnail_key = None
    if thumbnail is not None:
        try:
            thumbnail_key = storage.save(key.rsplit(".", 1)[0] + ".thumb.webp", ContentFile(thumbnail))
        except Exception:
            storage.delete(key)  # no half-stored upload left behind
            raise
    return AcceptedUpload(
        storage_key=key,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        original_name=safe_filename(filename or getattr(file, "name", "") or "", content_type=content_type),
        width=width,
        height=height,
        thumbnail_key=thumbnail_key,
    )


def delete_upload(
    storage_key: str,
    thumbnail_key: str | None = None,
    *,
    storage: Storage | None = None,
    public: bool = False,
) -> None:
    """Deletes an upload and its thumbnail; a file already gone is no error. From ``storage`` if
    given, else from the private storage, or the default one for a ``public`` policy's upload."""
    storage = _storage(storage, public=public)
    for key in (storage_key, thumbnail_key):
        if key:
            storage.delete(key)


def row_fields(accepted: AcceptedUpload) -> dict[str, Any]:
    """What an app's attachment row keeps of an upload, as model field names."""
    return {
        "storage_key": accepted.storage_key,
        "thumbnail_key": accepted.thumbnail_key or "",
        "content_type": accepted.content_type,
        "size": accepted.size,
        "sha256": accepted.sha256,
        "original_name": accepted.original_name,
        "width": accepted.width,
        "height": accepted.height,
    }


def store_upload(
    file: UploadedFile[bytes] | IO[bytes],
    *,
    field_name: str,
    keep: Callable[[dict[str, Any]], R],
    policy: UploadPolicy | None = None,
) -> R:
    """Accept ``file`` (``accept_upload``) and let the app ``keep`` it: ``keep`` gets ``row_fields``
    and creates the app's own attachment row in a transaction. If it fails, the stored files are
    deleted again: no file is left without its row. An attachment lands in the private storage."""
    policy = policy or default_policy()
    storage = policy_storage(policy)
    accepted = accept_upload(
        file,
        filename=getattr(file, "name", "") or "",
        policy=policy,
        storage=storage,
        field_name=field_name,
    )
    try:
        with transaction.atomic():
            return keep(row_fields(accepted))
    except BaseException:
        delete_upload(accepted.storage_key, accepted.thumbnail_key, storage=storage)
        raise


def store_waiting_upload(
    file: UploadedFile[bytes] | IO[bytes],
    *,
    field_name: str,
    waiting: QuerySet[Any],
    most_waiting: int,
    too_many: str,
    keep: Callable[[dict[str, Any]], R],
    policy: UploadPolicy | None = None,
) -> R:
    """``store_upload`` for an upload that waits for the post or message that takes it, refused with
    Conflict (``too_many_pending_attachments``, ``too_many`` with ``%(count)d`` filled in) when
    ``waiting`` (the uploader's uploads nothing took yet, as the app counts them) holds
    ``most_waiting`` or more. The app checks its own permission first."""
    count = waiting.count()
    if count >= most_waiting:
        raise Conflict(too_many % {"count": count}, code="too_many_pending_attachments")
    return store_upload(file, field_name=field_name, keep=keep, policy=policy)


def delete_waiting(waiting: QuerySet[Any], *, storage: Storage | None = None) -> int:
    """Delete the attachment rows of ``waiting`` (an uploader's uploads that nothing took, already
    filtered) under lock in one transaction; their files go after the commit, from ``storage`` (the
    private one unless given). Returns how many rows went.

    A storage that fails after the commit leaves a file behind (logged, and no row knows it), never an
    error for a discard that is done."""
    with transaction.atomic():
        rows = list(waiting.select_for_update().values_list("pk", "storage_key", "thumbnail_key"))
        waiting.model.objects.filter(pk__in=[pk for pk, _key, _thumbnail in rows]).delete()
        for _pk, key, thumbnail in rows:
            transaction.on_commit(
                partial(delete_upload, key, thumbnail or None, storage=storage), robust=True
            )
    return len(rows)


def delete_unclaimed(
    unclaimed: QuerySet[Any], *, batch_size: int = 100, storage: Storage | None = None
) -> int:
    """Delete the attachment rows of ``unclaimed`` (an app's uploads that nothing took, already
    filtered) with their files, ``batch_size`` rows a transaction; returns how many went.

    The rows need ``storage_key`` and ``thumbnail_key``. Rows another transaction holds locked (the
    post or message taking them right now) are skipped. Each batch deletes its files before its rows
    commit, so a run that fails halfway leaves rows whose files may be gone, which the next run
    finishes (a file already gone is no error); the other order would leave files no row knows of.
    Safe to run twice, or twice at once. The files go from ``storage``, the private one unless given."""
    batch_size = max(1, batch_size)
    storage = _storage(storage, public=False)
    deleted = 0
    while True:
        with transaction.atomic():
            rows = list(
                unclaimed.select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", "storage_key", "thumbnail_key")[:batch_size]
            )
            for _pk, key, thumbnail in rows:
                delete_upload(key, thumbnail or None, storage=storage)
            unclaimed.model.objects.filter(pk__in=[pk for pk, _key, _thumbnail in rows]).delete()
        deleted += len(rows)
        if len(rows) < batch_size:
            return deleted


# Types a browser may show in the page; anything else is always a download.
_INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "text/plain"})
_STREAM_CHUNK = 64 * 1024


def _s3_object(opened: Any) -> dict[str, Any] | None:
    """boto3's GetObject answer (``Body``, ``ContentLength``) for django-storages' S3File, None for
    other storages. S3File itself would first copy the whole object into memory; the body streams."""
    s3_object = getattr(opened, "obj", None)
    if s3_object is None or not hasattr(s3_object, "get"):
        return None
    answer: dict[str, Any] = s3_object.get()
    return answer


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(_STREAM_CHUNK)
    finally:
        body.close()


def serve_download(
    request: HttpRequest,
    *,
    storage_key: str,
    content_type: str,
    filename: str,
    as_attachment: bool = True,
    storage: Storage | None = None,
    public: bool = False,
) -> HttpResponseBase:
    """The response carrying a stored upload. Call it only after the app's own permission check.

    Read from ``storage`` if given, else from the private storage, or from the default one for a
    ``public`` policy's upload (an avatar). A key the storage does not hold (say, one stored in
    MEDIA_ROOT before attachments had a storage of their own) raises ``NotFound``.

    The bytes stream through this process from local disk or S3 (no redirect to a presigned URL), so
    the check holds on every fetch and the page never loads from another origin. Only images, MP4
    and plain text may be shown inline; everything else is a download whatever ``as_attachment``
    says, and every non-image answer is sandboxed by its Content-Security-Policy.
    """
    storage = _storage(storage, public=public)
    inline = not as_attachment and content_type in _INLINE_TYPES
    try:
        opened = storage.open(storage_key, "rb")
        s3_object = _s3_object(opened)
    except FileNotFoundError as error:
        raise NotFound(_("This file is no longer available.")) from error
    except Exception as error:
        # botocore's ClientError for a missing key; anything else is a real fault.
        if getattr(error, "response", {}).get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            raise NotFound(_("This file is no longer available.")) from error
        raise

    response: HttpResponseBase
    if s3_object is None:
        response = FileResponse(opened, content_type=content_type)
    else:
        opened.close()
        response = StreamingHttpResponse(_chunks(s3_object["Body"]), content_type=content_type)
        if s3_object.get("ContentLength") is not None:
            response["Content-Length"] = str(s3_object["ContentLength"])
    if content_type == "text/plain":
        response["Content-Type"] = "text/plain; charset=utf-8"  # checked to be UTF-8 on upload
    disposition = content_disposition_header(
        not inline,
        safe_filename(filename, content_type=content_type if content_type in KNOWN_TYPES else None),
    )
    if disposition:
        response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    # Another site may not embed it (an <img> there would carry our cookies).
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    # The key never changes content, so the browser may keep it a little; "private": shared caches
    # may not, since the next viewer may not be allowed to see it.
    response["Cache-Control"] = "private, max-age=300"
    if not content_type.startswith("image/"):
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
