"""The Celery application: settings under the CELERY_ namespace, tasks found in every app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("forum")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Subscribers are registered by each app's handlers module (imported from AppConfig.ready), and
# tasks.py modules are found here.
app.autodiscover_tasks()
