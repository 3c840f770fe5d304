from django.urls import path

from transactions.apis import TransactionDetailApi, TransactionListInitiateApi

urlpatterns = [
    path("transactions", TransactionListInitiateApi.as_view(), name="transactions"),
    path("transactions/<uuid:transaction_id>", TransactionDetailApi.as_view(), name="transaction-detail"),
]
