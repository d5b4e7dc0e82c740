"""
``wagtail_company_mfa.testing``, the helpers a site's own test suite uses (docs/testing.md), used here the
way a site would: through Django's test client and the real middleware.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.test import Client
from factories import PASSWORD, enroll_user, reauthenticate

from wagtail_company_mfa import testing
from wagtail_company_mfa.models import AuthenticatorDevice, RecoveryCodeDevice, UserSession

pytestmark = pytest.mark.django_db


def test_login_verified_reaches_the_admin_of_a_required_user(client, required_user):
    enrollment = testing.login_verified(client, required_user)

    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/pages/").status_code == 200
    assert enrollment.device == AuthenticatorDevice.objects.get(user=required_user, confirmed=True)
    assert list(UserSession.objects.filter(user=required_user).values_list("session_key", flat=True)) == [
        client.session.session_key
    ]


def test_login_verified_keeps_an_existing_authenticator(client, enrolled_user):
    enrollment = testing.login_verified(client, enrolled_user)

    assert client.get("/admin/").status_code == 200
    assert AuthenticatorDevice.objects.filter(user=enrolled_user).count() == 1
    assert enrollment.code() == enrolled_user.phone.code()  # the same secret as the user's phone
    assert enrollment.recovery_codes == []


def test_login_verified_session_can_do_a_security_action(client, required_user):
    enrollment = testing.login_verified(client, required_user)

    response = client.post("/admin/company-mfa/security/new-recovery-code/")

    # Within the re-authentication window, as right after a real sign-in.
    assert response.status_code == 302
    assert response.url.startswith("/admin/company-mfa/recovery-code/")
    assert enrollment.device.user_id == required_user.pk


def test_enroll_codes_verify_through_the_real_pages(client, required_user):
    enrollment = testing.enroll(required_user)
    assert len(enrollment.recovery_codes) == 1
    assert RecoveryCodeDevice.objects.filter(user=required_user).exists()

    client.post("/admin/login/", {"username": required_user.get_username(), "password": PASSWORD})
    response = client.post("/admin/company-mfa/verify/", {"code": enrollment.code()})

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    # A code is good once per time step; the next step's code re-authenticates.
    assert reauthenticate(client, PASSWORD, code=enrollment.code(steps=1)).status_code == 302


def test_enroll_without_recovery_codes(required_user):
    enrollment = testing.enroll(required_user, recovery_codes=False)

    assert enrollment.recovery_codes == []
    assert not RecoveryCodeDevice.objects.filter(user=required_user).exists()


def test_enroll_an_enrolled_user_returns_their_device(required_user):
    phone, _codes = enroll_user(required_user)

    enrollment = testing.enroll(required_user)

    assert AuthenticatorDevice.objects.filter(user=required_user).count() == 1
    assert enrollment.code() == phone.code()


def test_the_secret_is_not_in_the_repr(required_user):
    enrollment = testing.enroll(required_user)
    assert enrollment.key.hex() not in repr(enrollment)
    assert enrollment.recovery_codes[0] not in repr(enrollment)


def test_two_clients_are_two_sessions(required_user):
    first, second = Client(), Client()
    testing.login_verified(first, required_user)
    testing.login_verified(second, required_user)

    assert UserSession.objects.filter(user=required_user).count() == 2
    assert first.get("/admin/").status_code == 200
    assert second.get("/admin/").status_code == 200


def test_importing_the_helpers_imports_no_test_framework():
    code = (
        "import sys; import wagtail_company_mfa.testing; "
        "bad = [m for m in ('pytest', 'unittest', 'django.test') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert result.stdout.strip() == ""
