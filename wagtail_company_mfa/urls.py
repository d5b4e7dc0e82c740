from django.urls import path

from . import factors
from .access_codes import views as access_codes
from .account import views as account
from .base import email_confirmation_views as enroll_email
from .base import views as base
from .recovery_codes import views as recovery_codes
from .totp import views as totp
from .trusted import views as trusted

app_name = "wagtail_company_mfa"

# Which of these a session may reach before its second factor is done: base/pending.py (PENDING_URL_NAMES).
urlpatterns = [
    path("verify/", totp.VerifyView.as_view(), name="verify"),
    path("verify/recovery-code/", recovery_codes.RecoveryView.as_view(), name="recovery"),
    path("verify/access-code/", access_codes.AccessCodeView.as_view(), name="access_code"),
    path("setup-again/", access_codes.SetupAgainView.as_view(), name="setup_again"),
    path("required/", base.RequiredView.as_view(), name="required"),
    path("reauthenticate/", base.ReauthView.as_view(), name="reauth"),
    path("enroll/", totp.EnrollView.as_view(), name="enroll"),
    path("enroll/choose/", base.ChooseMethodView.as_view(), name="choose_method"),
    path("enroll/confirm-email/", enroll_email.EnrollEmailView.as_view(), name="enroll_email"),
    path(
        "enroll/confirm-email/<str:token>/",
        enroll_email.EnrollEmailConfirmView.as_view(),
        name="enroll_email_confirm",
    ),
    path("recovery-code/", recovery_codes.SaveCodesView.as_view(), name="save_codes"),
    path("recovery-code/download/", recovery_codes.DownloadCodesView.as_view(), name="download_codes"),
    # The Security tab's own changes: not pending pages, a verified session is required.
    path(
        "security/new-recovery-code/",
        account.RegenerateCodesView.as_view(),
        name="security_regenerate_codes",
    ),
    path("security/turn-off/", account.DisableView.as_view(), name="security_disable"),
    path("security/trusted-browsers/<int:pk>/stop/", trusted.RevokeView.as_view(), name="trust_revoke"),
    path("security/trusted-browsers/stop-all/", trusted.RevokeAllView.as_view(), name="trust_revoke_all"),
]

if factors.passkeys_installed():
    from .passkeys.urls import urlpatterns as passkey_urlpatterns

    urlpatterns += passkey_urlpatterns
