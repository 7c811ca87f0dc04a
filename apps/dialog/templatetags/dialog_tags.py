"""Template tags of the dialog app, for templates of other apps (a tag is not an import).

``{% dialog_settings %}`` on the account settings page: the member's dialog settings (who may start
dialogs with them, whether Enter sends) as the form the dialog list shows too; one query.
"""

from __future__ import annotations

from typing import Any

from django import template

from apps.dialog.forms import DialogSettingsForm

register = template.Library()


@register.inclusion_tag("dialog/_settings_form.html", takes_context=True)
def dialog_settings(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if request is None or user is None or not user.is_authenticated or user.pk is None:
        return {"form": None}
    return {
        "form": DialogSettingsForm.of_member(int(user.pk), next_url=request.path),
        "csrf_token": context.get("csrf_token"),
    }
