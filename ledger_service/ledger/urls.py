from django.urls import path

from ledger.apis import AccountBalanceApi, AccountStatementApi, EntryDetailApi, EntryExpireApi

urlpatterns = [
    path("entries/<uuid:transaction_id>", EntryDetailApi.as_view(), name="entry-detail"),
    path("entries/<uuid:transaction_id>/expire", EntryExpireApi.as_view(), name="entry-expire"),
    path("accounts/<uuid:wallet_id>/balance", AccountBalanceApi.as_view(), name="account-balance"),
    path("accounts/<uuid:wallet_id>/statement", AccountStatementApi.as_view(), name="account-statement"),
]
