from django.urls import path

from transactions.apis import TransactionDetailApi, TransactionListInitiateApi, TransactionRefundApi
from transactions.reconciliation_apis import (
    AnomalyListApi,
    ReconciliationTransactionListApi,
    ReconciliationTransactionLookupApi,
    StuckSagaListApi,
)

urlpatterns = [
    path("transactions", TransactionListInitiateApi.as_view(), name="transactions"),
    path("transactions/<uuid:transaction_id>", TransactionDetailApi.as_view(), name="transaction-detail"),
    path("transactions/<uuid:transaction_id>/refunds", TransactionRefundApi.as_view(), name="transaction-refunds"),
    path("internal/reconciliation/transactions", ReconciliationTransactionListApi.as_view(), name="rec-transactions"),
    path(
        "internal/reconciliation/transactions/lookup",
        ReconciliationTransactionLookupApi.as_view(),
        name="rec-transactions-lookup",
    ),
    path("internal/reconciliation/stuck-sagas", StuckSagaListApi.as_view(), name="rec-stuck-sagas"),
    path("internal/reconciliation/anomalies", AnomalyListApi.as_view(), name="rec-anomalies"),
]
