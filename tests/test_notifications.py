"""Out-of-band emails for security events (SEC-27), with no code or secret in them (SEC-44)."""

import time

import pytest
import time_machine
from django.core import mail
from factories import password_login

from wagtail_company_mfa.base import verification
from wagtail_company_mfa.recovery_codes import codes as recovery_codes

pytestmark = pytest.mark.django_db(transaction=False)


def all_mail_text() -> str:
    return "\n".join(
        m.subject + m.body + "".join(content for content, _type in m.alternatives) for m in mail.outbox
    )


def test_recovery_code_use_is_emailed_without_the_codes(
    client, enrolled_user, django_capture_on_commit_callbacks
):
    (old,) = enrolled_user.recovery_codes
    password_login(client, enrolled_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/company-mfa/verify/recovery-code/", {"code": old})
    assert [m.to for m in mail.outbox] == [[enrolled_user.email]]
    assert "recovery code was used" in mail.outbox[0].subject
    page = client.get("/admin/company-mfa/recovery-code/").content.decode()
    new = page.split('id="mfa-recovery-code-1" data-mfa-value="')[1].split('"')[0]
    text = all_mail_text()
    for secret in (old, recovery_codes.display(old), new, recovery_codes.normalize(new)):
        assert secret not in text


def test_throttling_is_emailed_once_per_run(client, enrolled_user, django_capture_on_commit_callbacks):
    password_login(client, enrolled_user)
    start = time.time()
    offset = 0
    with django_capture_on_commit_callbacks(execute=True):
        for attempt in range(verification.THROTTLE_LOG_THRESHOLD + 2):
            with time_machine.travel(start + offset, tick=False):
                client.post("/admin/company-mfa/verify/", {"code": "000000"})
            offset += 2**attempt + 1
    subjects = [m.subject for m in mail.outbox]
    assert subjects.count("Repeated wrong sign-in codes on Test site") == 1
    assert "000000" not in all_mail_text()
