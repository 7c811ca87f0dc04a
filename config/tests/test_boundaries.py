"""The boundaries between apps hold, and the checks that guard them really catch a breach.

Import contracts: each case builds a throwaway project in ``tmp_path`` with the repository's own
``.importlinter``, plants some imports and runs the real ``lint-imports`` on it, then checks which
contracts broke and that the planted import is the one reported. Model relations: the walker in
``forum.testing.boundaries`` runs over the real model registry, and over models made on purpose to be
wrong.
"""

# Throwaway models built to be wrong need no __str__.
# ruff: noqa: DJ008

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.test.utils import isolate_apps

from forum.models import OutboxEvent
from forum.testing.boundaries import CrossAppRelation, cross_app_relations, is_project_app

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_FILE = REPO_ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# Relations between project apps accepted on purpose: "<app_label>.<Model>.<field>" -> why.
# Every entry must also be listed in docs/boundaries.md.
ALLOWED_CROSS_APP_RELATIONS: dict[str, str] = {}


# --- import contracts -------------------------------------------------------------------------------


def contract_names() -> dict[str, str]:
    """Contract id -> contract name, as declared in the repository's .importlinter."""
    parser = configparser.ConfigParser()
    parser.read(CONTRACTS_FILE)
    prefix = "importlinter:contract:"
    return {
        section.removeprefix(prefix): parser[section]["name"]
        for section in parser.sections()
        if section.startswith(prefix)
    }


@dataclass(frozen=True)
class LintResult:
    returncode: int
    output: str
    status: dict[str, str]  # contract id -> "KEPT" or "BROKEN"
    reports: dict[str, str]  # contract id -> the text lint-imports printed for that broken contract

    @property
    def broken(self) -> set[str]:
        return {contract for contract, status in self.status.items() if status == "BROKEN"}


def run_lint_imports(project: Path) -> LintResult:
    names = contract_names()
    ids_by_name = {name: contract for contract, name in names.items()}
    environment = {
        **os.environ,
        "PYTHONPATH": str(project),
        # Wide enough that no contract name is wrapped onto two lines.
        "COLUMNS": "300",
    }
    completed = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = completed.stdout + completed.stderr
    status: dict[str, str] = {}
    for line in output.splitlines():
        match = re.fullmatch(r"(?P<name>.+?) (?P<status>KEPT|BROKEN)( \(.*\))?", line.strip())
        if match and match["name"] in ids_by_name:
            status[ids_by_name[match["name"]]] = match["status"]
    assert set(status) == set(names), f"lint-imports did not report every contract:\n{output}"

    # After the summary, each broken contract is printed as its name, a line of dashes, then details.
    lines = output.splitlines()
    starts = [
        (index, ids_by_name[line])
        for index, line in enumerate(lines)
        if line in ids_by_name and index + 1 < len(lines) and set(lines[index + 1]) == {"-"}
    ]
    reports: dict[str, str] = {}
    for position, (start, contract) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(lines)
        reports[contract] = "\n".join(lines[start:end])
    return LintResult(completed.returncode, output, status, reports)


BASE_PROJECT = {
    "apps/__init__.py": "",
    "apps/a/__init__.py": "",
    "apps/a/services.py": "",
    "apps/a/events.py": "",
    "apps/a/selectors.py": "",
    "apps/a/models.py": "",
    "apps/a/views.py": "",
    "apps/b/__init__.py": "",
    "apps/b/services.py": "",
    "apps/b/events.py": "",
    "apps/b/views.py": "",
    "forum/__init__.py": "",
    "forum/events.py": "import dataclasses\n",
    "config/__init__.py": "",
    "config/settings.py": "",
}


@dataclass(frozen=True)
class Case:
    files: dict[str, str]
    # contract id -> the "importer -> imported" lines (or other text) its report must contain
    expected: dict[str, list[str]] = field(default_factory=dict)


CASES = {
    "published interface and proper layering pass": Case(
        files={
            "apps/b/views.py": "from apps.a import events, services\nfrom apps.b import services as own\n",
            "apps/b/services.py": "import apps.a.events\nimport apps.a.services\n",
            "apps/a/services.py": "from apps.a import events, models, selectors\n",
            "apps/a/selectors.py": "from apps.a import models\n",
            "apps/a/models.py": "from apps.a import events\n",
            "apps/a/events.py": "import dataclasses\n\nfrom forum import events\n",
            "apps/a/views.py": "from apps.a import selectors, services\n",
            "forum/bus.py": "import django\n\nfrom forum import events\n",
            "config/urls.py": "from apps.a import views\nfrom apps.b import views as b_views\n",
        },
    ),
    "an app imports another app's private modules": Case(
        files={
            "apps/b/views.py": "from apps.a import models\n",
            "apps/b/services.py": "from apps.a.selectors import something\n",
        },
        expected={
            "app-boundaries": ["apps.b.views -> apps.a.models", "apps.b.services -> apps.a.selectors"],
        },
    ),
    "the kernel imports an app's services": Case(
        files={"forum/x.py": "from apps.a import services\n"},
        expected={
            "kernel-is-leaf": ["forum is not allowed to import apps", "forum.x -> apps.a.services"],
            # forum is not an app, so the published interface is closed to it as well
            "app-boundaries": ["forum.x -> apps.a.services"],
        },
    ),
    "the kernel imports config": Case(
        files={"forum/y.py": "from config import settings\n"},
        expected={"kernel-is-leaf": ["forum is not allowed to import config", "forum.y -> config.settings"]},
    ),
    "an events module imports a framework": Case(
        files={
            "apps/a/events.py": (
                "import django\nimport rest_framework.serializers\nfrom celery import shared_task\n"
                "import channels.layers\n"
            ),
            "forum/events.py": "from django.db import models\n",
        },
        expected={
            "events-are-pure": [
                "apps.a.events -> django",
                "apps.a.events -> rest_framework",
                "apps.a.events -> celery",
                "apps.a.events -> channels",
                "forum.events -> django",
            ],
        },
    ),
    "an events module reaches a framework through the kernel": Case(
        files={
            "apps/b/events.py": "from forum import bus\n",
            "forum/bus.py": "from django.db import transaction\n",
        },
        expected={
            "events-are-pure": ["apps.b.events is not allowed to import django", "apps.b.events -> forum.bus"]
        },
    ),
    "an app's lower layers import its higher ones": Case(
        files={
            "apps/a/selectors.py": "from apps.a import services\n",
            "apps/a/events.py": "from apps.a import models\n",
            # entry points are independent of one another
            "apps/a/views.py": "from apps.a import handlers\n",
            "apps/a/handlers.py": "",
        },
        expected={
            "app-layers": [
                "apps.a.selectors -> apps.a.services",
                "apps.a.events -> apps.a.models",
                "apps.a.views -> apps.a.handlers",
            ],
        },
    ),
    "apps call each other in a cycle": Case(
        files={
            "apps/a/services.py": "from apps.b import services\n",
            "apps/b/services.py": "from apps.a import services\n",
            # a cycle inside one app, between modules the layers contract does not name
            "apps/b/forms.py": "from apps.b import serializers\n",
            "apps/b/serializers.py": "from apps.b import forms\n",
        },
        expected={"apps-acyclic": ["No cycles are allowed in apps.\n", "No cycles are allowed in apps.b.\n"]},
    ),
}


@pytest.fixture(scope="module")
def lint_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, LintResult]:
    assert LINT_IMPORTS.exists(), f"lint-imports is not installed next to {sys.executable}"
    results = {}
    for number, (title, case) in enumerate(CASES.items()):
        project = tmp_path_factory.mktemp(f"lint-case-{number}")
        shutil.copy(CONTRACTS_FILE, project / ".importlinter")
        for relative, text in {**BASE_PROJECT, **case.files}.items():
            path = project / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        results[title] = run_lint_imports(project)
    return results


def test_the_contracts_of_the_issue_are_declared() -> None:
    assert {"app-boundaries", "kernel-is-leaf", "events-are-pure", "app-layers", "apps-acyclic"} <= set(
        contract_names()
    )


@pytest.mark.parametrize("title", list(CASES))
def test_contract_catches_exactly_the_planted_imports(
    title: str, lint_results: dict[str, LintResult]
) -> None:
    result = lint_results[title]
    expected = CASES[title].expected
    assert result.broken == set(expected), result.output
    assert result.returncode == (1 if expected else 0), result.output
    for contract, fragments in expected.items():
        for fragment in fragments:
            assert fragment in result.reports[contract], f"{fragment!r} not reported:\n{result.output}"


def test_the_repository_keeps_every_contract() -> None:
    result = run_lint_imports(REPO_ROOT)
    assert result.broken == set(), result.output
    assert result.returncode == 0, result.output


# --- model relations --------------------------------------------------------------------------------


def test_project_apps_are_the_kernel_and_apps_only() -> None:
    project = {config.name for config in django_apps.get_app_configs() if is_project_app(config)}
    installed = {name for name in settings.INSTALLED_APPS if name == "forum" or name.startswith("apps.")}
    assert installed <= project
    assert "apps.thread" in project
    assert all(name == "forum" or name.startswith(("forum.", "apps.")) for name in project)
    assert not {"django.contrib.auth", "django.contrib.admin", "rest_framework", "channels"} & project


def test_no_model_relates_to_another_apps_model() -> None:
    found = cross_app_relations(django_apps.get_models(), user_model=settings.AUTH_USER_MODEL)
    unexpected = [relation for relation in found if relation.key not in ALLOWED_CROSS_APP_RELATIONS]
    assert unexpected == [], "\n".join(map(str, unexpected))
    stale = set(ALLOWED_CROSS_APP_RELATIONS) - {relation.key for relation in found}
    assert stale == set(), f"allowed relations that no longer exist: {sorted(stale)}"


def keys(relations: list[CrossAppRelation]) -> list[str]:
    return [relation.key for relation in relations]


@isolate_apps("apps.thread", "apps.user", "apps.authentication", "forum")
def test_walker_reports_relations_into_other_project_apps() -> None:
    class Profile(models.Model):
        class Meta:
            app_label = "user"

    class Device(models.Model):
        class Meta:
            app_label = "authentication"

    class Forum(models.Model):
        class Meta:
            app_label = "thread"

    class Post(models.Model):
        forum = models.ForeignKey(Forum, on_delete=models.CASCADE)
        author = models.ForeignKey(get_user_model(), on_delete=models.CASCADE)
        content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
        author_profile = models.ForeignKey(Profile, on_delete=models.CASCADE)
        device = models.OneToOneField(Device, on_delete=models.CASCADE)
        watchers = models.ManyToManyField(Profile, related_name="watched_posts")
        outbox_row = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE)

        class Meta:
            app_label = "thread"

    class Kernel(models.Model):
        post = models.ForeignKey(Post, on_delete=models.CASCADE)

        class Meta:
            app_label = "forum"

    everything = Post._meta.apps.get_models(include_auto_created=True)
    found = cross_app_relations(everything, user_model=settings.AUTH_USER_MODEL)

    # Within one app, to the user model and to Django's own models are fine; the user model's own app
    # is not excepted, and the kernel is a project app in both directions. The many-to-many field is
    # reported once, not again through its auto-created table.
    assert keys(found) == [
        "forum.Kernel.post",
        "thread.Post.author_profile",
        "thread.Post.device",
        "thread.Post.outbox_row",
        "thread.Post.watchers",
    ]
    assert {relation.target for relation in found} == {
        "thread.Post",
        "user.Profile",
        "authentication.Device",
        "forum.OutboxEvent",
    }

    allowed = cross_app_relations(
        everything, user_model=settings.AUTH_USER_MODEL, allowed={"thread.Post.device"}
    )
    assert "thread.Post.device" not in keys(allowed)
    assert len(allowed) == len(found) - 1


@isolate_apps("apps.thread", "apps.support")
def test_walker_reports_generic_relations() -> None:
    class Post(models.Model):
        class Meta:
            app_label = "thread"

    class Complaint(models.Model):
        content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
        object_id = models.PositiveBigIntegerField()
        subject = GenericForeignKey("content_type", "object_id")

        class Meta:
            app_label = "support"

    class Ticket(models.Model):
        complaints = GenericRelation(Complaint)

        class Meta:
            app_label = "thread"

    found = cross_app_relations(Post._meta.apps.get_models(), user_model=settings.AUTH_USER_MODEL)
    assert keys(found) == ["support.Complaint.subject", "thread.Ticket.complaints"]
    assert found[0].target == "any model"
    assert found[1].target == "support.Complaint"


@isolate_apps("apps.thread", "django.contrib.contenttypes")
def test_walker_ignores_models_outside_the_project() -> None:
    class Post(models.Model):
        class Meta:
            app_label = "thread"

    class Note(models.Model):
        post = models.ForeignKey(Post, on_delete=models.CASCADE)

        class Meta:
            app_label = "contenttypes"

    assert not is_project_app(Note._meta.app_config)
    assert cross_app_relations(Post._meta.apps.get_models(), user_model=settings.AUTH_USER_MODEL) == []
