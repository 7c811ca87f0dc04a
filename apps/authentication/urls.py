"""Account pages, mounted under /accounts/ by config/urls.py."""

from django.urls import path

from apps.authentication import views

app_name = "authentication"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/sent/", views.signup_sent, name="signup-sent"),
    path("signin/", views.signin, name="signin"),
    path("signin/two-factor/", views.signin_two_factor, name="signin-two-factor"),
    path("signout/", views.signout, name="signout"),
    path("password/reset/", views.password_reset, name="password-reset"),
    path("password/reset/sent/", views.password_reset_sent, name="password-reset-sent"),
    path("password/reset/<str:token>/", views.password_reset_confirm, name="password-reset-confirm"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("settings/", views.account_settings, name="settings"),
    path("settings/password/", views.password_change, name="password-change"),
    path("settings/email/", views.email_change, name="email-change"),
    path("settings/email/resend/", views.email_verification_resend, name="email-resend"),
    path("settings/two-factor/", views.two_factor, name="two-factor"),
    path("settings/two-factor/start/", views.two_factor_start, name="two-factor-start"),
    path("settings/two-factor/confirm/", views.two_factor_confirm, name="two-factor-confirm"),
    path("settings/two-factor/backup-codes/", views.two_factor_backup_codes, name="two-factor-backup-codes"),
    path("settings/two-factor/disable/", views.two_factor_disable, name="two-factor-disable"),
]
