from django.urls import path

from accounts import apis

urlpatterns = [
    path("auth/register", apis.UserRegisterApi.as_view(), name="auth-register"),
    path("auth/token", apis.TokenObtainApi.as_view(), name="auth-token"),
    path("auth/token/refresh", apis.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/password/reset", apis.PasswordResetApi.as_view(), name="auth-password-reset"),
    path("auth/password/reset/confirm", apis.PasswordResetConfirmApi.as_view(), name="auth-password-reset-confirm"),
    path("auth/password/change", apis.PasswordChangeApi.as_view(), name="auth-password-change"),
    path("auth/sessions", apis.SessionListApi.as_view(), name="auth-sessions"),
    path("auth/sessions/<uuid:session_id>", apis.SessionRevokeApi.as_view(), name="auth-session"),
    path("auth/2fa", apis.TwoFactorStatusApi.as_view(), name="auth-2fa"),
    path("auth/2fa/setup", apis.TwoFactorSetupApi.as_view(), name="auth-2fa-setup"),
    path("auth/2fa/confirm", apis.TwoFactorConfirmApi.as_view(), name="auth-2fa-confirm"),
    path("auth/2fa/disable", apis.TwoFactorDisableApi.as_view(), name="auth-2fa-disable"),
    path("me", apis.MeApi.as_view(), name="me"),
]
