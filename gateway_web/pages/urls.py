from django.urls import path

from pages import staff, views

app_name = "pages"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("signup", views.signup, name="signup"),
    path("login", views.login, name="login"),
    path("logout", views.logout, name="logout"),
    path("password-reset", views.password_reset, name="password-reset"),
    path("password-reset/<str:uidb64>/<str:token>", views.password_reset_confirm_page, name="password-reset-confirm"),
    path("settings", views.account_settings, name="settings"),
    path("settings/sessions/<uuid:session_id>/revoke", views.session_revoke_page, name="session-revoke"),
    path("wallets/open", views.wallet_open, name="wallet-open"),
    path("wallets/<uuid:wallet_id>", views.wallet_detail, name="wallet"),
    path("wallets/<uuid:wallet_id>/statement", views.wallet_statement, name="statement"),
    path("wallets/<uuid:wallet_id>/statement.<str:kind>", views.wallet_statement_download, name="statement-download"),
    path("wallets/<uuid:wallet_id>/deposit", views.deposit, name="deposit"),
    path("wallets/<uuid:wallet_id>/withdraw", views.withdraw, name="withdraw"),
    path("transfer", views.transfer, name="transfer"),
    path("transactions/<uuid:transaction_id>", views.transaction_detail, name="transaction"),
    path("transactions/<uuid:transaction_id>/status", views.transaction_status, name="transaction-status"),
    path("staff/reconciliation", staff.reconciliation, name="staff-reconciliation"),
    path("staff/reconciliation/run", staff.run_now, name="staff-run"),
    path(
        "staff/reconciliation/runs/<int:run_id>/findings/<int:finding_id>/resolve",
        staff.resolve,
        name="staff-resolve",
    ),
]
