"""Pages of the payment app, mounted at the site's root by config/urls.py: /pay/ (the member's invoices)
and /pay/<public id>/ (an invoice's checkout page, where other apps' shops send the member)."""

from django.urls import path

from apps.payment import views

app_name = "payment"

urlpatterns = [
    path("pay/", views.invoice_list, name="invoices"),
    path("pay/<str:public_id>/", views.checkout, name="checkout"),
    path("pay/<str:public_id>/live/", views.checkout_live, name="checkout-live"),
    path("pay/<str:public_id>/check/", views.checkout_check, name="checkout-check"),
    path("pay/<str:public_id>/receipt/", views.receipt, name="receipt"),
]
