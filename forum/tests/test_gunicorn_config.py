"""The web server's settings (docker/servers/gunicorn.conf.py). (A worker's objects are frozen out of
the garbage collector's full passes by forum.gc_policy, in every process: forum/tests/test_gc_policy.py.)"""

from __future__ import annotations

import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings


def test_the_server_leaves_the_access_line_to_the_application() -> None:
    """One JSON line per request comes from the application (forum.request_context); gunicorn's own
    access line, which it formats for every request whenever a logging configuration is given (as
    this file gives one), is not made."""
    config = runpy.run_path(str(Path(settings.BASE_DIR) / "docker" / "servers" / "gunicorn.conf.py"))
    assert config["logconfig_dict"]
    from gunicorn.glogging import Logger

    def formatted_lines(logger_class: type[Logger]) -> list[object]:
        # A logger as gunicorn sets it up with that configuration, without reconfiguring this process's
        # logging: access enabled, its line formatted by atoms().
        logger = object.__new__(logger_class)
        made: list[object] = []
        logger.cfg = SimpleNamespace(
            accesslog=config["accesslog"],
            logconfig=None,
            logconfig_dict=config["logconfig_dict"],
            logconfig_json=None,
            syslog=False,
            disable_redirect_access_to_syslog=False,
            access_log_format="%(h)s",
        )
        assert logger.access_log_enabled
        logger.atoms = lambda *args: made.append(args) or {"h": "-"}  # type: ignore[method-assign]
        logger.access_log = logging.getLogger("test.gunicorn.access")
        logger.access(None, None, {}, None)
        return made

    assert formatted_lines(Logger)  # gunicorn's own would format it...
    assert config["logger_class"] is not Logger
    assert formatted_lines(config["logger_class"]) == []  # ...the server's does not
