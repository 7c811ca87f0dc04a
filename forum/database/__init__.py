"""The forum's database engine (``ENGINE = "forum.database"``): Django's PostgreSQL backend with
django-prometheus's query metrics, and a health check that costs no round trip (``base.py``)."""
