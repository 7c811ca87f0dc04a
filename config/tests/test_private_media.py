"""Attachments are reachable only through the views that check the reader, never under /media/.

They live in STORAGES["private"], outside MEDIA_ROOT (forum/uploads.py, docs/uploads.md), so the
development server's media route and nginx's /media/ location cannot reach them, however the path
is spelled: "//attachments", "/./attachments", "%2Fattachments" (the spellings that once slipped past
the route's guard), or plainly. The tests below store real post and dialog attachments and ask for
them under every spelling, through Django (the development profile's route) and through nginx started
with the repository's configuration.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

import config.urls
from apps.dialog import services as dialog_services
from apps.dialog.models import MessageAttachment
from apps.thread import services as thread_services
from apps.thread.models import PostAttachment
from forum.testing import processes
from forum.testing.fixtures import local_upload_storages
from forum.uploads import accept_upload, default_policy, private_storage, store_upload

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX_DIR = REPO_ROOT / "docker" / "nginx"

# This module is the URL map of its tests: the whole forum plus the development server's media route,
# which DEBUG alone would add (the test profile runs without DEBUG).
urlpatterns = [*config.urls.urlpatterns, *config.urls.media_urlpatterns]


def spellings(key: str) -> list[str]:
    """The paths under /media/ that name a stored key: the issue's, and plain."""
    return [f"/media/{key}", f"/media//{key}", f"/media/%2e/{key}", f"/media/%2F{key}", f"/media/./{key}"]


def png() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "#3a7").save(out, format="PNG")
    return SimpleUploadedFile("photo.png", out.getvalue(), content_type="image/png")


def pdf() -> SimpleUploadedFile:
    return SimpleUploadedFile("paper.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf")


def upload(client: APIClient, url: str, file: SimpleUploadedFile) -> dict[str, Any]:
    response = client.post(url, {"file": file}, format="multipart")
    assert response.status_code == 201, response.json()
    result: dict[str, Any] = response.json()
    return result


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else bytes(response.content)


@pytest.fixture
def dev_layout(english: None, redis_namespace: str, db: None, settings: Any, tmp_path: Path) -> Path:
    """Files as the development profile lays them out (MEDIA_ROOT and the private root side by side),
    and the URL map with its media route."""
    local_upload_storages(settings, tmp_path)
    settings.ROOT_URLCONF = __name__
    return tmp_path


@pytest.fixture
def api_as(django_user_model: Any) -> Callable[[int], APIClient]:
    def make(user_id: int) -> APIClient:
        client = APIClient()
        client.force_authenticate(django_user_model.objects.get(pk=user_id))
        return client

    return make


@pytest.fixture
def web(django_user_model: Any) -> Callable[[int | None], Client]:
    def make(user_id: int | None) -> Client:
        client = Client()
        if user_id is not None:
            client.force_login(django_user_model.objects.get(pk=user_id))
        return client

    return make


def stored_keys(rows: Any) -> list[str]:
    """The keys of the attachments' files and thumbnails (an image has one, a PDF none)."""
    keys = [key for pair in rows.values_list("storage_key", "thumbnail_key") for key in pair if key]
    assert len(keys) == 3
    return keys


def assert_only_the_view_serves(
    web: Callable[[int | None], Client], root: Path, reader: int, keys: list[str], view_urls: list[str]
) -> None:
    for key in keys:
        for path in spellings(key):
            for who in (None, reader):
                response = web(who).get(path)
                assert response.status_code == 404, (who, path)
        assert (root / "private" / key).is_file(), "the attachment is in the private storage"
        assert not (root / "media" / key).exists()
    for url in view_urls:
        assert web(reader).get(url).status_code == 200, url


def test_a_post_attachment_is_served_by_its_view_only(
    dev_layout: Path,
    api_as: Callable[[int], APIClient],
    web: Callable[[int | None], Client],
    make_member: Callable[..., int],
) -> None:
    author, reader = make_member(is_staff=True), make_member()
    general = thread_services.forum_create(name="General", kind="forum", position=1).id
    uploaded = [upload(api_as(author), "/api/v1/attachments", file) for file in (png(), pdf())]
    thread_services.thread_create(
        author_id=author,
        forum_id=general,
        title="Files",
        body="See",
        attachment_ids=[attachment["id"] for attachment in uploaded],
    )
    image, document = uploaded
    keys = stored_keys(PostAttachment.objects.filter(pk__in=[image["id"], document["id"]]))
    assert_only_the_view_serves(
        web, dev_layout, reader, keys, [image["url"], image["thumbnail_url"], document["url"]]
    )


def test_a_dialog_attachment_is_served_by_its_view_only(
    dev_layout: Path,
    api_as: Callable[[int], APIClient],
    web: Callable[[int | None], Client],
    make_member: Callable[..., int],
) -> None:
    alice, bob = make_member(), make_member()
    dialog_id = dialog_services.dialog_start(starter_id=alice, recipient_id=bob).id
    uploaded = [
        upload(api_as(alice), f"/api/v1/dialogs/{dialog_id}/attachments", file) for file in (png(), pdf())
    ]
    dialog_services.message_create(
        author_id=alice, dialog_id=dialog_id, body="Look", attachment_ids=[a["id"] for a in uploaded]
    )
    image, document = uploaded
    keys = stored_keys(MessageAttachment.objects.filter(pk__in=[image["id"], document["id"]]))
    assert_only_the_view_serves(
        web, dev_layout, bob, keys, [image["url"], image["thumbnail_url"], document["url"]]
    )


def test_old_attachments_left_in_media_root_stay_unreachable(
    dev_layout: Path,
    api_as: Callable[[int], APIClient],
    web: Callable[[int | None], Client],
    make_member: Callable[..., int],
) -> None:
    """A development copy keeps what it stored in MEDIA_ROOT before attachments had a storage of
    their own (no migration moves it): the media route refuses that folder under every spelling, and
    the download view answers 404 for such a key, which the private storage does not hold."""
    author = make_member(is_staff=True)
    general = thread_services.forum_create(name="General", kind="forum", position=1).id
    document = upload(api_as(author), "/api/v1/attachments", pdf())
    thread_services.thread_create(
        author_id=author, forum_id=general, title="Old", body="B", attachment_ids=[document["id"]]
    )
    old_key = "attachments/2025/01/0123456789abcdef0123456789abcdef.pdf"
    (dev_layout / "media" / old_key).parent.mkdir(parents=True)
    (dev_layout / "media" / old_key).write_bytes(b"%PDF-1.4\n%%EOF\n")  # where files used to be kept
    stored_key = PostAttachment.objects.get(pk=document["id"]).storage_key
    PostAttachment.objects.filter(pk=document["id"]).update(storage_key=old_key)

    for path in spellings(old_key):
        assert web(None).get(path).status_code == 404, path
    for path in (
        f"/media/{old_key}/",
        f"/media/{old_key.replace('attachments', 'Attachments')}",
        "/media/attachments/",
        "/media/attachments",
        "/media//attachments",
    ):
        assert web(None).get(path).status_code == 404, path
    # A path that climbs out of MEDIA_ROOT towards the private root is refused.
    for path in (
        f"/media/../private/{stored_key}",
        f"/media/..%2Fprivate/{stored_key}",
        f"/media/x/../../private/{stored_key}",
    ):
        assert web(None).get(path).status_code in (400, 404), path
    assert web(author).get(document["url"]).status_code == 404  # not found, not a crash

    # The route still serves public media (an avatar), so the answers above are its refusals.
    avatar = accept_upload(io.BytesIO(png().read()), filename="me.png", policy=avatar_like())
    assert avatar.thumbnail_key is not None
    response = web(None).get(f"/media/{avatar.thumbnail_key}")
    assert response.status_code == 200 and body_of(response)[:4] == b"RIFF"


def avatar_like() -> Any:
    return default_policy(allowed_types=frozenset({"image/png"}), prefix="avatars", public=True)


# --- nginx ------------------------------------------------------------------------------------------


def render_nginx(conf_dir: Path, *, media: Path, static: Path, port: int, keep_guard: bool) -> None:
    """The repository's nginx configuration in ``conf_dir``, changed only where a test machine
    differs from the stack: its own ports, log and pid files, the volumes' folders, and a fixed
    upstream address instead of Docker's DNS (``resolve`` needs nginx 1.27.3, distributions ship
    older). Every replacement must match, so that a changed configuration fails here rather than
    being tested half-changed."""
    shutil.copytree(NGINX_DIR, conf_dir)
    text = (conf_dir / "nginx.conf").read_text()
    probe_port, dead_port = processes.free_port(), processes.free_port()  # nothing listens on dead_port
    replacements = [
        (r"(?m)^worker_processes auto;$", "worker_processes 1;"),
        (r"(?m)^worker_rlimit_nofile \d+;$", ""),
        (r"worker_connections \d+;", "worker_connections 256;"),
        (r"(?m)^pid \S+;$", f"pid {conf_dir}/nginx.pid;"),
        (r"(?m)^error_log \S+ (\w+);$", rf"error_log {conf_dir}/error.log \1;"),
        (r"access_log /var/log/nginx/access.log json;", f"access_log {conf_dir}/access.log json;"),
        (r"resolver [^;]+;", ""),
        (r"resolver_timeout [^;]+;", ""),
        (r"server web:8000 resolve;", f"server 127.0.0.1:{dead_port};"),
        (r"server ws:8001 resolve;", f"server 127.0.0.1:{dead_port};"),
        (r"listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;"),
        (r"listen 127\.0\.0\.1:8081;", f"listen 127.0.0.1:{probe_port};"),
        (r"alias /srv/media/;", f"alias {media}/;"),
        (r"alias /srv/static/;", f"alias {static}/;"),
    ]
    if not keep_guard:
        replacements.append((r"location /media/attachments/ \{[^}]*\}", ""))
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text)
        assert count >= 1, f"nginx.conf no longer has {pattern!r}"
    if os.geteuid() == 0:
        # Workers would run as an unprivileged user, who may not enter pytest's private temporary
        # folders (mode 0700).
        text = "user root;\n" + text
    (conf_dir / "nginx.conf").write_text(text)


def status_of(port: int, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no client-side normalisation or quoting)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.skipif(
    shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx-light)"
)
@pytest.mark.parametrize("keep_guard", [True, False], ids=["as-configured", "without-the-attachments-guard"])
def test_nginx_serves_public_media_but_no_attachment(
    db: None, settings: Any, tmp_path: Path, keep_guard: bool
) -> None:
    """nginx with the repository's configuration, its /media/ alias on MEDIA_ROOT as in the stack.
    Even without its ``location /media/attachments/`` guard (kept for files stored there before), no
    spelling reaches an attachment: it is not in the folder nginx serves."""
    local_upload_storages(settings, tmp_path / "data")
    media, private = tmp_path / "data" / "media", tmp_path / "data" / "private"
    attachment = store_upload(pdf(), field_name="file", keep=lambda fields: fields)
    image = store_upload(png(), field_name="file", keep=lambda fields: fields)
    avatar = accept_upload(io.BytesIO(png().read()), filename="me.png", policy=avatar_like())
    keys = [attachment["storage_key"], image["storage_key"], image["thumbnail_key"]]
    assert all(private_storage().exists(key) for key in keys)
    (tmp_path / "static").mkdir()

    port = processes.free_port()
    conf_dir = tmp_path / "nginx"
    render_nginx(conf_dir, media=media, static=tmp_path / "static", port=port, keep_guard=keep_guard)
    nginx = processes.start_child(
        "nginx",
        ["nginx", "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf"), "-g", "daemon off;"],
        env=processes.child_env(),
        log_dir=tmp_path,
        port=port,
    )
    try:
        status, body = status_of(port, f"/media/{avatar.thumbnail_key}")
        assert status == 200 and body[:4] == b"RIFF", "nginx serves public media from MEDIA_ROOT"
        for key in keys:
            for path in spellings(key):
                status, _body = status_of(port, path)
                assert status == 404, (path, status)
            assert key.startswith("attachments/") and (private / key).is_file()
            for path in (f"/media/../private/{key}", f"/media/..%2Fprivate/{key}"):
                # Normalised to /private/..., which is the application's (no application runs here:
                # 502); nginx serves nothing from outside its aliases.
                status, _body = status_of(port, path)
                assert status in (400, 404, 502), (path, status)
    finally:
        nginx.stop()
