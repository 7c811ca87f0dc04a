"""Pages of the status app, mounted at the site's root by config/urls.py (/shop/...)."""

from django.urls import path

from apps.status import views

app_name = "status"

urlpatterns = [
    path("shop/", views.shop, name="shop"),
    path("shop/buy/", views.buy, name="buy"),
    path("shop/renew/<int:grant_id>/", views.renew, name="renew"),
]
