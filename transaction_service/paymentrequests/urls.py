from django.urls import path

from paymentrequests import apis

urlpatterns = [
    path("payment-requests", apis.PaymentRequestListCreateApi.as_view(), name="payment-requests"),
    path("payment-requests/<uuid:request_id>", apis.PaymentRequestDetailApi.as_view(), name="payment-request"),
    path("payment-requests/<uuid:request_id>/pay", apis.PaymentRequestPayApi.as_view(), name="payment-request-pay"),
    path(
        "payment-requests/<uuid:request_id>/decline",
        apis.PaymentRequestDeclineApi.as_view(),
        name="payment-request-decline",
    ),
    path(
        "payment-requests/<uuid:request_id>/cancel",
        apis.PaymentRequestCancelApi.as_view(),
        name="payment-request-cancel",
    ),
]
