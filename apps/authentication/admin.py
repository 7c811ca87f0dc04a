"""Accounts in the Django admin."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from apps.authentication.models import User

admin.site.register(User, UserAdmin)
