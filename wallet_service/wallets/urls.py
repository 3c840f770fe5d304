from django.urls import path

from wallets.apis import HoldDetailApi, HoldReserveApi, WalletDetailApi, WalletListOpenApi

urlpatterns = [
    path("wallets", WalletListOpenApi.as_view(), name="wallet-list-open"),
    path("wallets/<uuid:wallet_id>", WalletDetailApi.as_view(), name="wallet-detail"),
    path("holds", HoldReserveApi.as_view(), name="hold-reserve"),
    path("holds/<uuid:transaction_id>", HoldDetailApi.as_view(), name="hold-detail"),
]
