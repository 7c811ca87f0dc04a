"""API routes of the authorization app, mounted under /api/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path

from apps.authorization.api import sessions, tokens, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/permissions", views.MyPermissionsView.as_view(), name="my-permissions"),
    # The refresh cookie's path (JWT_REFRESH_COOKIE_PATH) is /api/v1/auth/token/: refresh and revoke
    # live under it, so the cookie goes to them and to nothing else.
    path("auth/token", tokens.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/two-factor", tokens.TokenTwoFactorView.as_view(), name="auth-token-two-factor"),
    path("auth/token/refresh", tokens.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/token/revoke", tokens.TokenRevokeView.as_view(), name="auth-token-revoke"),
    path("me/sessions", sessions.MySessionsView.as_view(), name="my-sessions"),
    path("me/sessions/end-others", sessions.EndOtherSessionsView.as_view(), name="my-sessions-end-others"),
    path("me/sessions/<uuid:session_id>", sessions.MySessionView.as_view(), name="my-session"),
]
