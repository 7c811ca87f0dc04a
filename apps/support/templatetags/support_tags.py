"""Template tags of the support app, for templates of other apps (a tag is not an import).

``{% report_link "member" member.user_id author_id=member.user_id %}``: the Report link to
``/report/?kind=...&id=...``, for signed-in members who may report (the quota ``report.create_per_day``
in the permission engine, read from the answer already loaded for the request: no query), never on
their own content nor for guests. Whether today's reports are used up is told by the report form.
"""

from __future__ import annotations

from typing import Any

from django import template

from apps.authorization.services import has_perm
from apps.support.services import REPORT_QUOTA

register = template.Library()

KINDS = frozenset({"post", "thread", "member", "message"})


@register.inclusion_tag("support/_report_link.html", takes_context=True)
def report_link(
    context: template.Context, kind: str, target_id: int, author_id: int | None = None, css_class: str = ""
) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    shown = (
        kind in KINDS
        and user is not None
        and user.is_authenticated
        and user.pk is not None
        and int(user.pk) != author_id
        and has_perm(user_id=int(user.pk), permission=REPORT_QUOTA)
    )
    return {"shown": shown, "kind": kind, "target_id": target_id, "css_class": css_class}
