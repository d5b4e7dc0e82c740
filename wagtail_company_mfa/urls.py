from django.urls import path

from .views import enroll, enroll_email, login, security

app_name = "wagtail_company_mfa"

urlpatterns = [
    path("verify/", login.VerifyView.as_view(), name="verify"),
    path("verify/recovery-code/", login.RecoveryView.as_view(), name="recovery"),
    path("required/", login.RequiredView.as_view(), name="required"),
    path("reauthenticate/", enroll.ReauthView.as_view(), name="reauth"),
    path("enroll/", enroll.EnrollView.as_view(), name="enroll"),
    path("enroll/confirm-email/", enroll_email.EnrollEmailView.as_view(), name="enroll_email"),
    path(
        "enroll/confirm-email/<str:token>/",
        enroll_email.EnrollEmailConfirmView.as_view(),
        name="enroll_email_confirm",
    ),
    path("recovery-code/", login.SaveCodesView.as_view(), name="save_codes"),
    path("recovery-code/download/", login.DownloadCodesView.as_view(), name="download_codes"),
    # The Security tab's own changes (issue 4): not pending pages, a verified session is required.
    path(
        "security/new-recovery-code/",
        security.RegenerateCodesView.as_view(),
        name="security_regenerate_codes",
    ),
    path("security/turn-off/", security.DisableView.as_view(), name="security_disable"),
]

#: The pages a session may reach before its second factor is done. Each one checks for itself what the
#: session may do there (for example, enrolling is refused to a user who already has an authenticator).
PENDING_URL_NAMES = frozenset(
    f"{app_name}:{name}"
    for name in (
        "verify",
        "recovery",
        "required",
        "reauth",
        "enroll",
        "enroll_email",
        "enroll_email_confirm",
        "save_codes",
        "download_codes",
    )
)
