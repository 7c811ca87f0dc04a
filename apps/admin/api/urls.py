"""API routes of the moderation app, mounted under /api/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path

from apps.admin.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/warnings", views.MyWarningsView.as_view(), name="moderation-my-warnings"),
    path(
        "members/<int:member_id>/warnings",
        views.MemberWarningsView.as_view(),
        name="moderation-member-warnings",
    ),
    path(
        "warnings/<int:warning_id>/revoke",
        views.WarningRevokeView.as_view(),
        name="moderation-warning-revoke",
    ),
    path("me/ban", views.MyBanView.as_view(), name="moderation-my-ban"),
    path("moderation/queue/count", views.QueueCountView.as_view(), name="moderation-queue-count"),
    path("members/<int:member_id>/bans", views.MemberBansView.as_view(), name="moderation-member-bans"),
    path("bans/<int:ban_id>/lift", views.BanLiftView.as_view(), name="moderation-ban-lift"),
    path("bans/emails", views.EmailBansView.as_view(), name="moderation-email-bans"),
    path("bans/emails/<int:ban_id>", views.EmailBanView.as_view(), name="moderation-email-ban"),
    path("bans/addresses", views.AddressBansView.as_view(), name="moderation-address-bans"),
    path("bans/addresses/<int:ban_id>", views.AddressBanView.as_view(), name="moderation-address-ban"),
    # A support ticket's URL, but the acts are moderation: this app owns them.
    path(
        "support/tickets/<int:ticket_id>/actions",
        views.TicketActView.as_view(),
        name="moderation-ticket-act",
    ),
]
