from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api import apis, payment_requests, schedules

urlpatterns = [
    path("wallets", apis.WalletListCreateApi.as_view(), name="wallet-list"),
    path("wallets/<uuid:wallet_id>", apis.WalletDetailApi.as_view(), name="wallet-detail"),
    path("wallets/<uuid:wallet_id>/limits", apis.WalletLimitsApi.as_view(), name="wallet-limits"),
    path("wallets/<uuid:wallet_id>/history", apis.WalletHistoryApi.as_view(), name="wallet-history"),
    path("wallets/<uuid:wallet_id>/balance", apis.WalletBalanceApi.as_view(), name="wallet-balance"),
    path("wallets/<uuid:wallet_id>/statement", apis.WalletStatementApi.as_view(), name="wallet-statement"),
    path("wallets/<uuid:wallet_id>/deposits", apis.WalletDepositApi.as_view(), name="wallet-deposit"),
    path("wallets/<uuid:wallet_id>/withdrawals", apis.WalletWithdrawalApi.as_view(), name="wallet-withdrawal"),
    path("transfers", apis.TransferCreateApi.as_view(), name="transfer-create"),
    path("transactions", apis.TransactionListApi.as_view(), name="transaction-list"),
    path("transactions/<uuid:transaction_id>", apis.TransactionDetailApi.as_view(), name="transaction-detail"),
    path("transactions/<uuid:transaction_id>/refunds", apis.TransactionRefundApi.as_view(), name="transaction-refunds"),
    path("scheduled-transfers", schedules.ScheduledTransferListCreateApi.as_view(), name="schedule-list"),
    path(
        "scheduled-transfers/<uuid:schedule_id>", schedules.ScheduledTransferDetailApi.as_view(), name="schedule-detail"
    ),
    path("payment-requests", payment_requests.PaymentRequestListCreateApi.as_view(), name="payment-request-list"),
    path(
        "payment-requests/<uuid:request_id>",
        payment_requests.PaymentRequestDetailApi.as_view(),
        name="payment-request-detail",
    ),  # fmt: skip
    path(
        "payment-requests/<uuid:request_id>/pay",
        payment_requests.PaymentRequestPayApi.as_view(),
        name="payment-request-pay",
    ),  # fmt: skip
    path(
        "payment-requests/<uuid:request_id>/decline",
        payment_requests.PaymentRequestDeclineApi.as_view(),
        name="payment-request-decline",
    ),  # fmt: skip
    path(
        "payment-requests/<uuid:request_id>/cancel",
        payment_requests.PaymentRequestCancelApi.as_view(),
        name="payment-request-cancel",
    ),  # fmt: skip
    path("activity", apis.ActivityListApi.as_view(), name="activity-list"),
    path("healthz", apis.HealthApi.as_view(), name="api-healthz"),
    path("readyz", apis.ReadyApi.as_view(), name="api-readyz"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]
