"""Uploads (forum.uploads): sniffing, limits, metadata stripping, thumbnails, storage and downloads."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished
from django.db import close_old_connections
from django.http import FileResponse, StreamingHttpResponse
from django.test import RequestFactory
from PIL import ExifTags, Image, PngImagePlugin

from forum.errors import NotFound, ValidationFailed
from forum.testing.fixtures import local_upload_storages
from forum.testing.seaweed import PRIVATE_PREFIX, SeaweedS3
from forum.uploads import (
    THUMBNAIL_CONTENT_TYPE,
    AcceptedUpload,
    UploadPolicy,
    accept_upload,
    default_policy,
    delete_upload,
    private_storage,
    safe_filename,
    serve_download,
    sniff_content_type,
)

pytestmark = pytest.mark.usefixtures("english")

ALL_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "application/zip"}
    | {"text/plain", "video/mp4"}
)
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.5),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (13.0, 24.0, 33.25),
}


def policy(**overrides: Any) -> UploadPolicy:
    values: dict[str, Any] = {
        "max_bytes": 5 * 1024 * 1024,
        "allowed_types": ALL_TYPES,
        "image_max_pixels": 4_000_000,
        "thumbnail_size": 320,
    }
    values.update(overrides)
    return UploadPolicy(**values)


@pytest.fixture(autouse=True)
def no_database_on_close() -> Iterator[None]:
    """A download's response.close() sends request_finished, whose close_old_connections would check
    the health of a connection an earlier database test left open in this process; these tests use
    no database, and would fail for that one (with "Database access not allowed")."""
    request_finished.disconnect(close_old_connections)
    yield
    request_finished.connect(close_old_connections)


@pytest.fixture
def disk(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path / "media")


def image_bytes(
    fmt: str, size: tuple[int, int] = (64, 48), *, mode: str = "RGB", color: Any = "#3a7", **options: Any
) -> bytes:
    image = Image.new(mode, size, color)
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def camera_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.Model] = "SpyCam Model 7"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = GPS
    return exif.tobytes()


def animated_gif() -> bytes:
    frames = [Image.new("P", (30, 20), color) for color in (1, 2, 3)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header claims ``width`` × ``height`` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", pixels)
        + png_chunk(b"IEND", b"")
    )


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return out.getvalue()


PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free"
WINDOWS_PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64 + b"PE\x00\x00"
LINUX_PROGRAM = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56


def read(storage: Storage, key: str) -> bytes:
    with storage.open(key, "rb") as stored:
        data: bytes = stored.read()
        return data


def refusal(excinfo: pytest.ExceptionInfo[ValidationFailed]) -> tuple[str, int, str]:
    error = excinfo.value
    assert error.fields == {"file": [error.message]}
    return error.code, error.status, error.message


# --- Sniffing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (image_bytes("JPEG"), "image/jpeg"),
        (image_bytes("PNG"), "image/png"),
        (image_bytes("GIF"), "image/gif"),
        (image_bytes("WEBP"), "image/webp"),
        (PDF, "application/pdf"),
        (zip_bytes(), "application/zip"),
        (MP4, "video/mp4"),
        ("Привет, мир\nline two\ttabbed\r\n".encode(), "text/plain"),
        (b"<html><script>alert(1)</script></html>", "text/plain"),
        ("caf\xe9".encode("latin-1"), None),
        (b"text with a \x00 NUL", None),
        (WINDOWS_PROGRAM, None),
        (LINUX_PROGRAM, None),
        (b"MZ looks like text but is a program's signature", None),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", None),
        (b"", None),
    ],
    ids=[
        "jpeg",
        "png",
        "gif",
        "webp",
        "pdf",
        "zip",
        "mp4",
        "utf8",
        "html-is-text",
        "latin1",
        "nul",
        "exe",
        "elf",
        "mz-text",
        "heic",
        "empty",
    ],
)
def test_the_type_comes_from_the_content(data: bytes, expected: str | None) -> None:
    assert sniff_content_type(data) == expected


@pytest.mark.parametrize(
    ("data", "content_type", "extension"),
    [
        (image_bytes("JPEG"), "image/jpeg", "jpg"),
        (image_bytes("PNG"), "image/png", "png"),
        (animated_gif(), "image/gif", "gif"),
        (image_bytes("WEBP"), "image/webp", "webp"),
        (PDF, "application/pdf", "pdf"),
        (zip_bytes(), "application/zip", "zip"),
        (MP4, "video/mp4", "mp4"),
        ("Привет\n".encode(), "text/plain", "txt"),
    ],
)
def test_every_type_is_accepted_and_stored_under_its_own_extension(
    disk: FileSystemStorage, data: bytes, content_type: str, extension: str
) -> None:
    accepted = accept_upload(io.BytesIO(data), filename="upload", policy=policy(), storage=disk)

    assert accepted.content_type == content_type
    assert accepted.storage_key.startswith("attachments/")
    assert accepted.storage_key.endswith(f".{extension}")
    assert accepted.original_name == f"upload.{extension}"
    assert disk.exists(accepted.storage_key)
    assert (accepted.thumbnail_key is not None) == content_type.startswith("image/")


def test_a_program_renamed_png_is_refused_as_a_program(disk: FileSystemStorage) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        accept_upload(io.BytesIO(WINDOWS_PROGRAM), filename="cute-cat.png", policy=policy(), storage=disk)

    code, status, message = refusal(excinfo)
    assert (code, status) == ("file_type_not_allowed", 400)
    assert message.startswith("This file is a program; accepted are: JPEG, PNG, GIF, WebP, PDF, ZIP, MP4")
    assert not (Path(disk.location) / "attachments").exists()


def test_a_pdf_named_jpg_is_a_pdf(disk: FileSystemStorage) -> None:
    accepted = accept_upload(io.BytesIO(PDF), filename="holiday.jpg", policy=policy(), storage=disk)

    assert accepted.content_type == "application/pdf"
    assert accepted.storage_key.endswith(".pdf")
    assert accepted.original_name == "holiday.pdf"
    assert accepted.thumbnail_key is None


def test_a_jpeg_named_pdf_is_an_image(disk: FileSystemStorage) -> None:
    accepted = accept_upload(
        io.BytesIO(image_bytes("JPEG")), filename="scan.pdf", policy=policy(), storage=disk
    )

    assert (accepted.content_type, accepted.original_name) == ("image/jpeg", "scan.jpg")
    assert (accepted.width, accepted.height) == (64, 48)


def test_a_type_the_policy_does_not_allow_is_refused_by_name(disk: FileSystemStorage) -> None:
    images_only = policy(allowed_types=frozenset({"image/jpeg", "image/png"}))

    with pytest.raises(ValidationFailed) as excinfo:
        accept_upload(io.BytesIO(PDF), filename="report.pdf", policy=images_only, storage=disk)

    assert refusal(excinfo)[2] == "This file is PDF; accepted are: JPEG, PNG."


def test_text_in_another_encoding_is_not_recognised(disk: FileSystemStorage) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        accept_upload(io.BytesIO("Grüße".encode("cp1252")), filename="a.txt", policy=policy(), storage=disk)

    assert refusal(excinfo)[2].startswith("This file's type is not recognised; accepted are:")


# --- Size ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "shown"), [(1000, "1000 bytes"), (2 * 1024 * 1024, "2 MB"), (1536, "1.5 KB")]
)
def test_a_file_over_the_limit_is_refused_naming_the_limit(
    disk: FileSystemStorage, limit: int, shown: str
) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        accept_upload(
            io.BytesIO(b"a" * (limit + 1)), filename="big.txt", policy=policy(max_bytes=limit), storage=disk
        )

    code, status, message = refusal(excinfo)
    assert (code, status) == ("file_too_large", 413)
    assert message == f"The file is larger than {shown}, the most an upload may be."


def test_a_file_of_exactly_the_limit_is_accepted(disk: FileSystemStorage) -> None:
    accepted = accept_upload(
        io.BytesIO(b"a" * 1000), filename="a.txt", policy=policy(max_bytes=1000), storage=disk
    )

    assert accepted.size == 1000


class EndlessStream(io.RawIOBase):
    """A stream that never ends, counting what was read from it."""

    def __init__(self) -> None:
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and size > 0, "an unbounded read of an endless stream"
        self.bytes_read += size
        return b"a" * size


def test_no_more_than_the_limit_and_one_byte_is_read(disk: FileSystemStorage) -> None:
    stream = EndlessStream()

    with pytest.raises(ValidationFailed):
        accept_upload(stream, filename="endless.txt", policy=policy(max_bytes=3_000_000), storage=disk)

    assert stream.bytes_read == 3_000_001


@pytest.mark.parametrize("name", ["empty.txt", "empty.png", ""])
def test_an_empty_file_is_refused(disk: FileSystemStorage, name: str) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        accept_upload(SimpleUploadedFile(name or "x", b""), filename=name, policy=policy(), storage=disk)

    assert refusal(excinfo) == ("file_empty", 400, "The file is empty.")


def test_a_django_upload_is_read_from_its_start(disk: FileSystemStorage) -> None:
    upload = SimpleUploadedFile("notes.md", "# Заметки\n".encode(), content_type="application/octet-stream")
    upload.read()  # a form's validation may have read it already

    accepted = accept_upload(upload, filename=upload.name or "", policy=policy(), storage=disk)

    assert read(disk, accepted.storage_key) == "# Заметки\n".encode()
    assert accepted.original_name == "notes.md"
    assert accepted.content_type == "text/plain"  # what the browser claimed does not count


# --- Images --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (3000, 2000, "The image is 3000 × 2000 pixels; at most 4 megapixels are accepted."),
        # Past Pillow's own guard (179 megapixels), which refuses it before the size can be read.
        (100_000, 100_000, "The image has too many pixels; at most 4 megapixels are accepted."),
    ],
)
def test_a_decompression_bomb_is_refused_before_decoding(
    disk: FileSystemStorage, width: int, height: int, expected: str
) -> None:
    bomb = png_claiming(width, height)
    assert len(bomb) < 200

    with pytest.raises(ValidationFailed) as excinfo:
        accept_upload(io.BytesIO(bomb), filename="tiny.png", policy=policy(), storage=disk)

    assert refusal(excinfo) == ("image_too_large", 400, expected)


def test_the_pixel_limit_comes_from_the_policy(disk: FileSystemStorage) -> None:
    data = image_bytes("PNG", (200, 100))

    with pytest.raises(ValidationFailed):
        accept_upload(
            io.BytesIO(data), filename="a.png", policy=policy(image_max_pixels=19_999), storage=disk
        )
    accepted = accept_upload(
        io.BytesIO(data), filename="a.png", policy=policy(image_max_pixels=20_000), storage=disk
    )
    assert (accepted.width, accepted.height) == (200, 100)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10,
        image_bytes("PNG", (300, 300), mode="RGB")[:-200],
        b"RIFF\x10\x00\x00\x00WEBPVP8 garbage",
        b"GIF89a\x01",
    ],
    ids=["jpeg", "truncated-png", "webp", "gif"],
)
def test_a_damaged_image_is_refused(disk: FileSystemStorage, data: bytes) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        accept_upload(io.BytesIO(data), filename="x", policy=policy(), storage=disk)

    code, _status, message = refusal(excinfo)
    assert code == "image_damaged"
    assert message.startswith("The image is damaged or not a real")


def test_gps_and_camera_data_are_stripped_from_a_jpeg(disk: FileSystemStorage) -> None:
    original = image_bytes("JPEG", (120, 80), exif=camera_exif(), comment=b"secret comment")
    with Image.open(io.BytesIO(original)) as before:  # the fixture really carries them
        assert before.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert b"SpyCam" in original and b"secret comment" in original

    accepted = accept_upload(io.BytesIO(original), filename="me.jpg", policy=policy(), storage=disk)

    stored = read(disk, accepted.storage_key)
    with Image.open(io.BytesIO(stored)) as after:
        assert after.format == "JPEG"
        assert after.size == (120, 80)
        assert not after.getexif()
        assert "exif" not in after.info and "comment" not in after.info
    assert b"SpyCam" not in stored and b"secret comment" not in stored
    assert accepted.size == len(stored)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_metadata_is_stripped_from_png_and_webp(disk: FileSystemStorage, fmt: str) -> None:
    options: dict[str, Any] = {"exif": camera_exif()}
    if fmt == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Comment", "SpyCam was here")
        options["pnginfo"] = text
    original = image_bytes(fmt, (50, 40), mode="RGBA", color=(51, 170, 119, 128), **options)
    assert b"SpyCam" in original

    accepted = accept_upload(io.BytesIO(original), filename="x", policy=policy(), storage=disk)

    stored = read(disk, accepted.storage_key)
    assert b"SpyCam" not in stored
    with Image.open(io.BytesIO(stored)) as after:
        assert after.format == fmt
        assert after.mode == "RGBA"  # transparency survives
        assert after.getpixel((0, 0))[3] == 128  # type: ignore[index]
        assert not after.getexif()


def test_a_multi_picture_jpeg_keeps_its_first_picture_without_metadata(disk: FileSystemStorage) -> None:
    first, second = Image.new("RGB", (60, 40), "red"), Image.new("RGB", (60, 40), "blue")
    out = io.BytesIO()
    first.save(out, format="MPO", save_all=True, append_images=[second], exif=camera_exif())
    with Image.open(io.BytesIO(out.getvalue())) as before:  # what phones write: "animated" JPEG
        assert before.format == "MPO" and getattr(before, "is_animated", False)

    accepted = accept_upload(io.BytesIO(out.getvalue()), filename="x.jpg", policy=policy(), storage=disk)

    stored = read(disk, accepted.storage_key)
    assert b"SpyCam" not in stored
    with Image.open(io.BytesIO(stored)) as after:
        assert after.format == "JPEG"
        assert after.getpixel((0, 0))[0] > 200  # type: ignore[index]


def test_the_exif_rotation_is_applied_before_it_is_dropped(disk: FileSystemStorage) -> None:
    # Orientation 6: the camera held upright wrote a landscape frame to be turned a quarter.
    original = image_bytes("JPEG", (40, 20), exif=camera_exif(orientation=6))

    accepted = accept_upload(io.BytesIO(original), filename="x.jpg", policy=policy(), storage=disk)

    assert (accepted.width, accepted.height) == (20, 40)
    with Image.open(io.BytesIO(read(disk, accepted.storage_key))) as after:
        assert after.size == (20, 40)


def test_an_animated_gif_is_kept_as_it_is(disk: FileSystemStorage) -> None:
    original = animated_gif()

    accepted = accept_upload(io.BytesIO(original), filename="dance.gif", policy=policy(), storage=disk)

    assert read(disk, accepted.storage_key) == original
    assert (accepted.width, accepted.height) == (30, 20)


@pytest.mark.parametrize(
    ("size", "thumbnail_size", "expected"),
    [
        ((1000, 500), 320, (320, 160)),
        ((300, 900), 320, (107, 320)),
        ((100, 50), 320, (100, 50)),
        ((800, 800), 64, (64, 64)),
    ],
)
def test_the_thumbnail_fits_its_box(
    disk: FileSystemStorage, size: tuple[int, int], thumbnail_size: int, expected: tuple[int, int]
) -> None:
    original = image_bytes("PNG", size)

    accepted = accept_upload(
        io.BytesIO(original), filename="x.png", policy=policy(thumbnail_size=thumbnail_size), storage=disk
    )

    assert accepted.thumbnail_key is not None
    assert accepted.thumbnail_key.endswith(".thumb.webp")
    assert accepted.thumbnail_key.rsplit("/", 1)[0] == accepted.storage_key.rsplit("/", 1)[0]
    with Image.open(io.BytesIO(read(disk, accepted.thumbnail_key))) as thumbnail:
        assert thumbnail.format == "WEBP"
        assert Image.MIME[thumbnail.format] == THUMBNAIL_CONTENT_TYPE
        assert thumbnail.size == expected
    assert (accepted.width, accepted.height) == size


def test_a_palette_image_with_transparency_gets_a_thumbnail(disk: FileSystemStorage) -> None:
    original = image_bytes("PNG", (500, 500), mode="P", transparency=0)

    accepted = accept_upload(io.BytesIO(original), filename="x.png", policy=policy(), storage=disk)

    assert accepted.thumbnail_key is not None
    with Image.open(io.BytesIO(read(disk, accepted.thumbnail_key))) as thumbnail:
        assert thumbnail.mode == "RGBA"


# --- Storage -------------------------------------------------------------------------------------


def test_stored_on_local_disk_byte_for_byte(disk: FileSystemStorage) -> None:
    accepted = accept_upload(io.BytesIO(PDF), filename="paper.pdf", policy=policy(), storage=disk)

    path = Path(disk.location) / accepted.storage_key
    assert path.read_bytes() == PDF
    assert accepted.sha256 == hashlib.sha256(PDF).hexdigest()
    assert accepted.size == len(PDF)


def test_keys_are_random_and_never_taken_from_the_name(disk: FileSystemStorage) -> None:
    first = accept_upload(io.BytesIO(PDF), filename="../../etc/passwd", policy=policy(), storage=disk)
    second = accept_upload(io.BytesIO(PDF), filename="../../etc/passwd", policy=policy(), storage=disk)

    assert first.storage_key != second.storage_key
    for accepted in (first, second):
        assert "passwd" not in accepted.storage_key and ".." not in accepted.storage_key
        assert accepted.original_name == "passwd.pdf"


def test_the_private_storage_and_settings_are_used_without_arguments(tmp_path: Path, settings: Any) -> None:
    local_upload_storages(settings, tmp_path)
    settings.UPLOAD_MAX_BYTES = 10

    accepted = accept_upload(io.BytesIO(b"short text"), filename="a.txt")
    with pytest.raises(ValidationFailed):
        accept_upload(io.BytesIO(b"longer text"), filename="a.txt")

    # An attachment lives outside MEDIA_ROOT, where no media route reaches it, and has no URL.
    assert (tmp_path / "private" / accepted.storage_key).read_bytes() == b"short text"
    assert not (tmp_path / "media").exists()
    assert private_storage().exists(accepted.storage_key)
    with pytest.raises(ValueError, match="no URL"):
        private_storage().url(accepted.storage_key)
    response = serve_download(
        RequestFactory().get("/"), storage_key=accepted.storage_key, content_type="text/plain", filename="a"
    )
    assert b"".join(response.streaming_content) == b"short text"  # type: ignore[attr-defined]
    response.close()
    delete_upload(accepted.storage_key)
    assert not (tmp_path / "private" / accepted.storage_key).exists()


def test_a_public_policy_stores_in_the_default_storage(tmp_path: Path, settings: Any) -> None:
    local_upload_storages(settings, tmp_path)
    accepted = accept_upload(
        io.BytesIO(image_bytes("PNG")), filename="me.png", policy=policy(prefix="avatars", public=True)
    )
    assert accepted.thumbnail_key is not None
    assert (tmp_path / "media" / accepted.thumbnail_key).is_file()
    assert default_storage.exists(accepted.storage_key) and not private_storage().exists(accepted.storage_key)
    # Read and deleted where it is only when asked for the public storage.
    with pytest.raises(NotFound):
        serve_download(
            RequestFactory().get("/"),
            storage_key=accepted.thumbnail_key,
            content_type="image/webp",
            filename="a",
        )
    response = serve_download(
        RequestFactory().get("/"),
        storage_key=accepted.thumbnail_key,
        content_type="image/webp",
        filename="a",
        public=True,
    )
    assert response.status_code == 200
    response.close()
    delete_upload(accepted.storage_key, accepted.thumbnail_key)
    assert default_storage.exists(accepted.storage_key)
    delete_upload(accepted.storage_key, accepted.thumbnail_key, public=True)
    assert not default_storage.exists(accepted.storage_key) and not default_storage.exists(
        accepted.thumbnail_key
    )


def test_delete_removes_the_file_and_its_thumbnail_and_tolerates_a_second_call(
    disk: FileSystemStorage,
) -> None:
    accepted = accept_upload(io.BytesIO(image_bytes("PNG")), filename="x.png", policy=policy(), storage=disk)
    assert accepted.thumbnail_key is not None

    delete_upload(accepted.storage_key, accepted.thumbnail_key, storage=disk)
    delete_upload(accepted.storage_key, accepted.thumbnail_key, storage=disk)

    assert not disk.exists(accepted.storage_key)
    assert not disk.exists(accepted.thumbnail_key)


def test_stored_on_seaweedfs_s3_and_read_back_byte_for_byte(
    seaweed_s3: SeaweedS3, s3_private_storage: Storage
) -> None:
    photo = image_bytes("JPEG", (900, 600), exif=camera_exif())

    accepted = accept_upload(io.BytesIO(photo), filename="photo.jpg", policy=policy())  # private storage

    # Under the private prefix of the bucket, which is never made public, and private by its ACL.
    client = seaweed_s3.client()
    object_key, thumbnail_key = (
        f"{PRIVATE_PREFIX}/{key}" for key in (accepted.storage_key, accepted.thumbnail_key)
    )
    stored = client.get_object(Bucket=seaweed_s3.bucket, Key=object_key)["Body"].read()
    assert len(stored) == accepted.size
    assert hashlib.sha256(stored).hexdigest() == accepted.sha256
    assert b"SpyCam" not in stored
    assert read(s3_private_storage, accepted.storage_key) == stored
    thumbnail = client.get_object(Bucket=seaweed_s3.bucket, Key=thumbnail_key)["Body"].read()
    with Image.open(io.BytesIO(thumbnail)) as image:
        assert image.size == (320, 213)

    response = serve_download(
        RequestFactory().get("/"),
        storage_key=accepted.storage_key,
        content_type=accepted.content_type,
        filename=accepted.original_name,
        as_attachment=False,
    )
    assert isinstance(response, StreamingHttpResponse)
    assert b"".join(response.streaming_content) == stored  # type: ignore[arg-type]
    assert response["Content-Length"] == str(len(stored))
    assert response["Content-Disposition"] == 'inline; filename="photo.jpg"'
    response.close()

    delete_upload(accepted.storage_key, accepted.thumbnail_key)
    for key in (object_key, thumbnail_key):
        with pytest.raises(ClientError):
            client.head_object(Bucket=seaweed_s3.bucket, Key=key)


def test_a_missing_s3_object_is_not_found(seaweed_s3: SeaweedS3) -> None:
    with pytest.raises(NotFound):
        serve_download(
            RequestFactory().get("/"),
            storage_key="attachments/2026/01/nothing-here.pdf",
            content_type="application/pdf",
            filename="x.pdf",
            storage=seaweed_s3.storage(),
        )


# --- Downloads -----------------------------------------------------------------------------------


def stored(disk: FileSystemStorage, data: bytes, filename: str = "x") -> AcceptedUpload:
    return accept_upload(io.BytesIO(data), filename=filename, policy=policy(), storage=disk)


def download(
    disk: FileSystemStorage, accepted: AcceptedUpload, *, as_attachment: bool = True, filename: str = ""
) -> Any:
    return serve_download(
        RequestFactory().get("/"),
        storage_key=accepted.storage_key,
        content_type=accepted.content_type,
        filename=filename or accepted.original_name,
        as_attachment=as_attachment,
        storage=disk,
    )


def test_a_pdf_download_is_an_attachment_sandboxed_and_never_sniffed(disk: FileSystemStorage) -> None:
    accepted = stored(disk, PDF, "отчёт за год.pdf")

    response = download(disk, accepted, as_attachment=False)  # asking inline changes nothing for a PDF

    assert isinstance(response, FileResponse)
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%20%D0%B7%D0%B0%20%D0%B3%D0%BE%D0%B4.pdf"
    )
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    assert response["Cache-Control"].startswith("private")
    response.close()


def test_an_image_may_be_shown_inline_without_a_sandbox(disk: FileSystemStorage) -> None:
    accepted = stored(disk, image_bytes("PNG"), 'cat "quoted".png')

    response = download(disk, accepted, as_attachment=False)

    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="cat \\"quoted\\".png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in response
    response.close()


def test_text_is_served_as_utf8_and_sandboxed(disk: FileSystemStorage) -> None:
    accepted = stored(disk, b"<script>alert(1)</script>", "page.html")

    response = download(disk, accepted, as_attachment=False)

    assert accepted.original_name == "page.html.txt"  # saved to disk, it must not open in a browser
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Disposition"] == 'inline; filename="page.html.txt"'
    response.close()


def test_the_download_name_is_cleaned_again(disk: FileSystemStorage) -> None:
    accepted = stored(disk, zip_bytes())

    response = download(disk, accepted, filename="..\\..\\evil\u202egpj.exe\r\nX-Injected: 1")

    disposition = response["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "\u202e" not in disposition
    assert disposition.startswith("attachment; filename=")
    assert disposition.endswith('.zip"')
    assert "X-Injected" not in response
    response.close()


def test_a_missing_file_is_not_found(disk: FileSystemStorage) -> None:
    with pytest.raises(NotFound):
        serve_download(
            RequestFactory().get("/"),
            storage_key="attachments/2026/01/gone.pdf",
            content_type="application/pdf",
            filename="gone.pdf",
            storage=disk,
        )


# --- Names and policy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("photo.JPG", "image/jpeg", "photo.JPG"),
        ("photo.jpeg", "image/jpeg", "photo.jpeg"),
        ("setup.exe", "application/zip", "setup.zip"),
        ("README", "text/plain", "README.txt"),
        ("notes.md", "text/plain", "notes.md"),
        ("run.bat", "text/plain", "run.bat.txt"),
        ("/home/me/../secret.pdf", "application/pdf", "secret.pdf"),
        ("C:\\Users\\me\\cv.pdf", "application/pdf", "cv.pdf"),
        ("  ..hidden  ", None, "hidden"),
        ("a\tb\u0000c\u200bd", None, "a b c d"),
        ("", "application/pdf", "file.pdf"),
        ("...", None, "file"),
        ("x" * 400 + ".pdf", "application/pdf", "x" * 146 + ".pdf"),
    ],
)
def test_safe_filename(name: str, content_type: str | None, expected: str) -> None:
    assert safe_filename(name, content_type=content_type) == expected


def test_the_default_policy_comes_from_the_settings(settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 1234
    settings.UPLOAD_ALLOWED_TYPES = ["image/png", "application/pdf"]
    settings.UPLOAD_IMAGE_MAX_PIXELS = 99
    settings.UPLOAD_THUMBNAIL_SIZE = 64

    assert default_policy() == UploadPolicy(
        max_bytes=1234,
        allowed_types=frozenset({"image/png", "application/pdf"}),
        image_max_pixels=99,
        thumbnail_size=64,
    )
    assert default_policy(max_bytes=1).max_bytes == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"allowed_types": frozenset({"image/svg+xml"})},
        {"max_bytes": 0},
        {"prefix": "../outside"},
        {"prefix": "/abs"},
    ],
)
def test_a_wrong_policy_is_refused_at_once(overrides: dict[str, Any]) -> None:
    with pytest.raises(ImproperlyConfigured):
        policy(**overrides)
