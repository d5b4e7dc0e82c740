"""The passkey pages and endpoints, part of ``wagtail_company_mfa.urls`` when passkeys are installed."""

from django.urls import path
from django.views.i18n import JavaScriptCatalog

from . import endpoints, views

urlpatterns = [
    path("verify/passkey/", views.VerifyView.as_view(), name="passkey_verify"),
    path("verify/passkey/begin/", endpoints.AuthBeginView.as_view(), name="passkey_auth_begin"),
    path("verify/passkey/complete/", endpoints.AuthCompleteView.as_view(), name="passkey_auth_complete"),
    path("passkeys/add/", views.AddView.as_view(), name="passkey_add"),
    path("passkeys/add/begin/", endpoints.RegisterBeginView.as_view(), name="passkey_register_begin"),
    path(
        "passkeys/add/complete/",
        endpoints.RegisterCompleteView.as_view(),
        name="passkey_register_complete",
    ),
    # The browser code's messages, in the user's language (django-otp-webauthn's catalogue, then ours).
    path(
        "passkeys/jsi18n/",
        JavaScriptCatalog.as_view(packages=["django_otp_webauthn", "wagtail_company_mfa"]),
        name="passkey_jsi18n",
    ),
    # The Security tab's changes: a verified session is required.
    path("security/passkeys/<int:pk>/rename/", views.RenameView.as_view(), name="passkey_rename"),
    path("security/passkeys/<int:pk>/remove/", views.RemoveView.as_view(), name="passkey_remove"),
]
