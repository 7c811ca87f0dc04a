"""Test-only URLs: a view that makes many permission checks, to count what a request pays for them,
and an API view that spends a quota, as the thread app's "new thread" will."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.authorization.services import has_perm, limit, permission_catalogue, quota_consume, require


def checks(request: HttpRequest, rounds: int) -> JsonResponse:
    """``rounds`` times over every permission, as a page with many widgets might ask."""
    user_id = request.user.pk if request.user.is_authenticated else None
    other = request.GET.get("other")
    allowed = 0
    for _round in range(rounds):
        for info in permission_catalogue():
            allowed += has_perm(user_id=user_id, permission=info.code)
            if other:
                allowed += has_perm(user_id=int(other), permission=info.code)
            if info.kind != "flag":
                limit(user_id=user_id, permission=info.code)
        require(user_id=user_id, permission="forum.read")
    return JsonResponse({"allowed": allowed})


class SpendView(APIView):
    def post(self, request: Request) -> Response:
        require(user_id=request.user.pk, permission="thread.create")
        use = quota_consume(user_id=request.user.pk, permission="thread.create_per_day")
        return Response({"remaining": use.state.remaining}, status=201)


urlpatterns = [
    path("checks/<int:rounds>", checks),
    path("api/v1/testing/spend", SpendView.as_view()),
    path("", include("config.urls")),
]
