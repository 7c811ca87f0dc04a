"""API routes of the status app, mounted under /api/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path

from apps.status.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("statuses", views.StatusCatalogueView.as_view(), name="statuses"),
    path("me/statuses", views.MyStatusGrantsView.as_view(), name="my-statuses"),
    path("status-plans", views.StatusPlansView.as_view(), name="status-plans"),
    path("status-plans/<int:plan_id>/buy", views.StatusPlanBuyView.as_view(), name="status-plan-buy"),
]
