"""Accounts API routes, mounted under /api/v1/ by config/urls.py."""

from django.urls import URLPattern, URLResolver, path

from apps.authentication.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/signup", views.SignupView.as_view(), name="auth-signup"),
    path("auth/signin", views.SigninView.as_view(), name="auth-signin"),
    path("auth/signin/two-factor", views.SigninTwoFactorView.as_view(), name="auth-signin-two-factor"),
    path("auth/signout", views.SignoutView.as_view(), name="auth-signout"),
    path("auth/password", views.PasswordChangeView.as_view(), name="auth-password"),
    path("auth/password/reset", views.PasswordResetView.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm",
        views.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/email", views.EmailChangeView.as_view(), name="auth-email"),
    path("auth/email/verify", views.EmailVerifyView.as_view(), name="auth-email-verify"),
    path("auth/email/resend", views.EmailResendView.as_view(), name="auth-email-resend"),
    path("me", views.MeView.as_view(), name="me"),
    path("me/two-factor", views.TwoFactorView.as_view(), name="me-two-factor"),
    path("me/two-factor/confirm", views.TwoFactorConfirmView.as_view(), name="me-two-factor-confirm"),
    path(
        "me/two-factor/backup-codes",
        views.TwoFactorBackupCodesView.as_view(),
        name="me-two-factor-backup-codes",
    ),
]
