"""API routes of the payment app, mounted under /api/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path

from apps.payment.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("invoices", views.InvoiceCreateView.as_view(), name="invoices"),
    path("invoices/<str:public_id>", views.InvoiceDetailView.as_view(), name="invoice"),
    path("invoices/<str:public_id>/check", views.InvoiceCheckView.as_view(), name="invoice-check"),
    path("me/invoices", views.MyInvoicesView.as_view(), name="my-invoices"),
    path("payment/rates", views.RatesView.as_view(), name="payment-rates"),
]
