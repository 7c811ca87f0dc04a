"""The model-level half of the app boundaries: no relation field from one project app to another's model.

Import contracts (``.importlinter``) cannot see ``ForeignKey("thread.Post")``: a string reference joins
two apps' tables without any import. This walker finds such relations, so that a test can fail on them.
An app keeps another app's ids as plain integer fields; the only model every app may point at is the
user model.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import AppConfig
from django.db.models import Model

__all__ = ["CrossAppRelation", "cross_app_relations", "is_project_app"]

PROJECT_PACKAGES = ("apps", "forum")


def is_project_app(app_config: AppConfig) -> bool:
    """Whether the app is ours (the kernel or one of apps.*), not Django's or a third party's."""
    return any(
        app_config.name == package or app_config.name.startswith(f"{package}.")
        for package in PROJECT_PACKAGES
    )


@dataclass(frozen=True)
class CrossAppRelation:
    """A relation field on ``model`` that reaches a model of another project app."""

    model: str
    field: str
    target: str
    reason: str

    @property
    def key(self) -> str:
        """``"<app_label>.<Model>.<field>"``, the name under which an exception is allowed."""
        return f"{self.model}.{self.field}"

    def __str__(self) -> str:
        return f"{self.key} -> {self.target}: {self.reason}"


def _relation_fields(model: type[Model]) -> list[Any]:
    """The relation fields the model declares itself (inherited ones belong to their own model)."""
    options = model._meta
    fields: list[Any] = [*options.local_fields, *options.local_many_to_many, *options.private_fields]
    return [field for field in fields if field.is_relation]


def cross_app_relations(
    models: Iterable[type[Model]],
    *,
    user_model: str,
    allowed: Collection[str] = (),
) -> list[CrossAppRelation]:
    """Every relation from a project app's model to another project app's model, sorted.

    ``user_model`` is the label of the user model (``settings.AUTH_USER_MODEL``), which any app may
    point at. ``allowed`` holds the keys (``"thread.Post.forum"``) of relations accepted on purpose.
    A generic foreign key is always reported: its target is chosen per row, so nothing keeps it
    inside its own app. Auto-created models (the through tables of many-to-many fields) are skipped,
    because the many-to-many field itself is reported.
    """
    found: list[CrossAppRelation] = []
    for model in models:
        options = model._meta
        if options.auto_created or not is_project_app(options.app_config):
            continue
        for field in _relation_fields(model):
            target = field.related_model
            if target is None:
                relation = CrossAppRelation(
                    model=options.label,
                    field=field.name,
                    target="any model",
                    reason="a generic foreign key can point into any app; keep the other app's id instead",
                )
            elif isinstance(target, str):
                relation = CrossAppRelation(
                    model=options.label,
                    field=field.name,
                    target=target,
                    reason="an unresolved lazy reference; the boundary cannot be checked",
                )
            else:
                target_options = target._meta
                if target_options.label == user_model:
                    continue
                if target_options.app_label == options.app_label:
                    continue
                if not is_project_app(target_options.app_config):
                    continue
                relation = CrossAppRelation(
                    model=options.label,
                    field=field.name,
                    target=target_options.label,
                    reason=f"{options.app_label} may keep {target_options.app_label}'s ids, not a relation",
                )
            if relation.key not in allowed:
                found.append(relation)
    return sorted(found, key=lambda relation: relation.key)
