from django.urls import path

from history.apis import ActivityListApi, WalletHistoryListApi

urlpatterns = [
    path("wallets/<uuid:wallet_id>/history", WalletHistoryListApi.as_view(), name="wallet-history"),
    path("activity", ActivityListApi.as_view(), name="activity"),
]
