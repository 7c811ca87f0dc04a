"""The web server's settings (docker/servers/gunicorn.conf.py): what each worker does once it has
loaded the application."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

from django.conf import settings


def test_a_worker_sets_the_applications_objects_aside_from_the_garbage_collector() -> None:
    """After loading the application a worker freezes what is alive then (``gc.freeze``): its full
    collections walk only what requests made since, not every module, template and setting."""
    config = runpy.run_path(str(Path(settings.BASE_DIR) / "docker" / "servers" / "gunicorn.conf.py"))
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        config["post_worker_init"](None)
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
