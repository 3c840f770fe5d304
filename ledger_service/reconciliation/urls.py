from django.urls import path

from reconciliation import apis

urlpatterns = [
    path("reconciliation/runs", apis.RunListCreateApi.as_view(), name="reconciliation-runs"),
    path("reconciliation/runs/<int:run_id>", apis.RunDetailApi.as_view(), name="reconciliation-run"),
    path("reconciliation/totals", apis.TotalsApi.as_view(), name="reconciliation-totals"),
    path(
        "reconciliation/findings/<int:finding_id>/resolve",
        apis.FindingResolveApi.as_view(),
        name="reconciliation-finding-resolve",
    ),
    path(
        "reconciliation/wallets/<uuid:wallet_id>/resync", apis.WalletResyncApi.as_view(), name="reconciliation-resync"
    ),
    path("reconciliation/repairs", apis.RepairListApi.as_view(), name="reconciliation-repairs"),
    path("reconciliation/stuck-sagas", apis.StuckSagaListApi.as_view(), name="reconciliation-stuck-sagas"),
    path("reconciliation/dead-letters", apis.DeadLetterListApi.as_view(), name="reconciliation-dead-letters"),
    path("reconciliation/operations", apis.OperationsApi.as_view(), name="reconciliation-operations"),
]
