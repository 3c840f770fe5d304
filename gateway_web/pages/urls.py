from django.urls import path

from pages import plans, staff, views

app_name = "pages"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("signup", views.signup, name="signup"),
    path("login", views.login, name="login"),
    path("logout", views.logout, name="logout"),
    path("password-reset", views.password_reset, name="password-reset"),
    path("password-reset/<str:uidb64>/<str:token>", views.password_reset_confirm_page, name="password-reset-confirm"),
    path("settings", views.account_settings, name="settings"),
    path("settings/two-factor/setup", views.two_factor_setup_page, name="two-factor-setup"),
    path("settings/two-factor/confirm", views.two_factor_confirm_page, name="two-factor-confirm"),
    path("settings/two-factor/disable", views.two_factor_disable_page, name="two-factor-disable"),
    path("settings/sessions/<uuid:session_id>/revoke", views.session_revoke_page, name="session-revoke"),
    path("wallets/open", views.wallet_open, name="wallet-open"),
    path("wallets/<uuid:wallet_id>", views.wallet_detail, name="wallet"),
    path("wallets/<uuid:wallet_id>/limits", views.wallet_limits, name="wallet-limits"),
    path("wallets/<uuid:wallet_id>/statement", views.wallet_statement, name="statement"),
    path("wallets/<uuid:wallet_id>/statement.<str:kind>", views.wallet_statement_download, name="statement-download"),
    path("wallets/<uuid:wallet_id>/deposit", views.deposit, name="deposit"),
    path("wallets/<uuid:wallet_id>/withdraw", views.withdraw, name="withdraw"),
    path("transfer", views.transfer, name="transfer"),
    path("transactions/<uuid:transaction_id>", views.transaction_detail, name="transaction"),
    path("transactions/<uuid:transaction_id>/refund", views.transaction_refund, name="transaction-refund"),
    path("transactions/<uuid:transaction_id>/status", views.transaction_status, name="transaction-status"),
    path("scheduled", plans.scheduled, name="scheduled"),
    path(
        "scheduled/<uuid:schedule_id>/<str:action>",
        plans.schedule_action,
        name="schedule-action",
    ),
    path("requests", plans.payment_requests, name="requests"),
    path("requests/<uuid:request_id>/pay", plans.payment_request_pay, name="request-pay"),
    path("requests/<uuid:request_id>/<str:action>", plans.payment_request_act, name="request-act"),
    path("staff/reconciliation", staff.reconciliation, name="staff-reconciliation"),
    path("staff/reconciliation/run", staff.run_now, name="staff-run"),
    path(
        "staff/reconciliation/runs/<int:run_id>/findings/<int:finding_id>/resolve",
        staff.resolve,
        name="staff-resolve",
    ),
]
