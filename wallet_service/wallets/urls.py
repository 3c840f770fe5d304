from django.urls import path

from wallets.apis import (
    HoldDetailApi,
    HoldReserveApi,
    HoldVoidApi,
    ReconciliationWalletListApi,
    WalletDetailApi,
    WalletLimitsApi,
    WalletListOpenApi,
    WalletResyncApi,
)

urlpatterns = [
    path("wallets", WalletListOpenApi.as_view(), name="wallet-list-open"),
    path("wallets/<uuid:wallet_id>", WalletDetailApi.as_view(), name="wallet-detail"),
    path("wallets/<uuid:wallet_id>/limits", WalletLimitsApi.as_view(), name="wallet-limits"),
    path("holds", HoldReserveApi.as_view(), name="hold-reserve"),
    path("holds/<uuid:transaction_id>", HoldDetailApi.as_view(), name="hold-detail"),
    path("holds/<uuid:transaction_id>/void", HoldVoidApi.as_view(), name="hold-void"),
    path("internal/reconciliation/wallets", ReconciliationWalletListApi.as_view(), name="reconciliation-wallets"),
    path("internal/wallets/<uuid:wallet_id>/resync", WalletResyncApi.as_view(), name="wallet-resync"),
]
