"""
The markup that makes the sign-in and enrollment pages usable with a screen reader, a keyboard and a phone
(docs/user-guide.md), read off the pages that the real login, middleware and views serve: the secrets as
wrapping text with a copy button, each error under its field and tied to it, no autofocus on the setup page,
the QR code as an image with a text alternative, and the link that opens the setup in the phone's app.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlparse

import pytest
from bs4 import BeautifulSoup
from factories import Authenticator, enroll_user, password_login, reauthenticate, sign_in, verify_with_code

pytestmark = pytest.mark.django_db

ENROLL_URL = "/admin/company-mfa/enroll/"
RECOVERY_URL = "/admin/company-mfa/verify/recovery-code/"
SAVE_URL = "/admin/company-mfa/recovery-code/"


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.content.decode(), "html.parser")


def assert_described_by_elements_exist(page: BeautifulSoup) -> None:
    for element in page.select("[aria-describedby]"):
        for element_id in element["aria-describedby"].split():
            assert page.find(id=element_id) is not None, f"{element} points to a missing #{element_id}"


def assert_error_under_field(page: BeautifulSoup, field_id: str, message: str) -> None:
    """The error is under the field, with an id; it describes the field, marked invalid and emptied."""
    field = page.find(id=field_id)
    error = page.find(id=f"{field_id}-error")
    assert error is not None, f"no #{field_id}-error"
    assert message in error.get_text(" ", strip=True)
    assert field["aria-invalid"] == "true"
    assert f"{field_id}-error" in field["aria-describedby"].split()
    assert not field.get("value"), "the wrong value is left in the field"
    # Under it: the error comes after the input in the same field wrapper.
    wrapper = field.find_parent(attrs={"data-field-wrapper": True})
    assert error in wrapper.find_all(id=f"{field_id}-error")
    assert field.find_all_next(id=f"{field_id}-error")
    # And only there, not repeated in the page's messages at the top.
    messages = page.select_one(".messages")
    assert message not in (messages.get_text(" ", strip=True) if messages else "")
    assert_described_by_elements_exist(page)


# Secrets: wrapping grouped text with a copy button ---------------------------------------------------------


def test_setup_key_is_grouped_text_with_a_copy_button_of_the_whole_key(client, required_user):
    password_login(client, required_user)
    page = soup(client.get(ENROLL_URL))

    key = page.find(id="mfa-setup-key")
    assert key.name == "p", "the setup key must be text, not a fixed-width input"
    assert not page.select("input[readonly]")
    groups = [span.get_text() for span in key.select("span[style*=nowrap]")]
    assert len(groups) == 8
    assert all(len(group) == 4 for group in groups)
    assert "overflow-wrap: anywhere" in key["style"]
    compact = "".join(groups)
    base64.b32decode(compact)  # the groups are the whole key
    copy_button = page.select_one("[data-action='w-clipboard#copy']")
    assert copy_button.get_text(strip=True) == "Copy key"
    assert copy_button["data-w-clipboard-value-param"] == compact


def test_recovery_code_is_grouped_text_with_a_copy_button(client, required_user):
    required_user.phone, _codes = enroll_user(required_user)
    sign_in(client, required_user)
    response = client.post("/admin/company-mfa/security/new-recovery-code/")
    assert response.status_code == 302, response.content[:300]
    page = soup(client.get(response.url))

    code = page.find(id="mfa-recovery-code-1")
    assert code.name == "p"
    groups = [span.get_text() for span in code.select("span[style*=nowrap]")]
    assert groups[:3] == [group + "-" for group in code["data-mfa-value"].split("-")[:3]]
    assert code.get_text("", strip=True).endswith(code["data-mfa-value"])  # after the screen-reader label
    copy_button = page.select_one("[data-action='w-clipboard#copy']")
    assert copy_button["data-w-clipboard-value-param"] == code["data-mfa-value"]


# Errors under their fields ---------------------------------------------------------------------------------


def test_wrong_code_on_verify_is_under_the_field_and_clears_it(client, enrolled_user):
    password_login(client, enrolled_user)
    response = verify_with_code(client, "000000")
    assert response.status_code == 200
    page = soup(response)

    assert_error_under_field(page, "id_code", "That code didn't work.")
    # The sign-in page still focuses the code field: with the error describing it, the error is read first.
    assert page.find(id="id_code").has_attr("autofocus")


def test_badly_formed_code_on_verify_is_under_the_field(client, enrolled_user):
    password_login(client, enrolled_user)
    assert_error_under_field(soup(verify_with_code(client, "12")), "id_code", "Enter the 6 digits")


def test_wrong_recovery_code_is_under_the_field_and_clears_it(client, enrolled_user):
    password_login(client, enrolled_user)
    response = client.post(RECOVERY_URL, {"code": "ABCD-EFGH-JKMN-PQRS"})
    assert response.status_code == 200
    assert_error_under_field(soup(response), "id_code", "didn't work")


def test_wrong_code_on_enroll_is_under_the_field_and_focuses_it(client, required_user):
    password_login(client, required_user)
    client.get(ENROLL_URL)
    response = client.post(ENROLL_URL, {"code": "000000"})
    assert response.status_code == 200
    page = soup(response)

    assert_error_under_field(page, "id_code", "That code didn't match.")
    # Coming back to correct it, the field with its error is where the user is taken.
    assert page.find(id="id_code").has_attr("autofocus")


def test_wrong_password_on_reauthenticate_is_under_the_field(client, enrolled_user):
    sign_in(client, enrolled_user)
    response = reauthenticate(client, password="wrong", code="000000")
    page = soup(response)

    assert_error_under_field(page, "id_password", "That password is not correct.")


def test_unticked_box_on_almost_there_is_under_the_box(client, required_user):
    password_login(client, required_user)
    page = client.get(ENROLL_URL)
    key = base64.b32decode(soup(page).find(id="mfa-setup-key")["data-mfa-value"].replace(" ", ""))
    assert client.post(ENROLL_URL, {"code": Authenticator(key).code()}).status_code == 302
    response = client.post(SAVE_URL, {})
    page = soup(response)

    box = page.find(id="id_confirm")
    error = page.find(id="id_confirm-error")
    assert "Tick the box" in error.get_text()
    assert box["aria-invalid"] == "true"
    assert box["aria-describedby"] == "id_confirm-error"
    # The label is beside the box, after it, not above it as a required-field label.
    label = page.find("label", attrs={"for": "id_confirm"})
    assert label.find_previous("input") == box
    assert not label.select(".w-required-mark")
    assert_described_by_elements_exist(page)


# The setup page: no autofocus, the QR code as an image, the link for this phone -----------------------------


def test_enroll_page_focuses_nothing_and_describes_the_qr_code(client, required_user):
    password_login(client, required_user)
    page = soup(client.get(ENROLL_URL))

    assert not page.select("[autofocus]"), "the setup page must not skip the QR code and the instructions"
    svg = page.select_one("[data-mfa-qr] svg")
    assert svg["role"] == "img"
    assert "QR code" in svg["aria-label"]
    assert "setup key" in svg["aria-label"]
    assert_described_by_elements_exist(page)


def test_enroll_page_links_the_setup_to_the_authenticator_app_on_this_phone(client, required_user):
    password_login(client, required_user)
    page = soup(client.get(ENROLL_URL))

    link = page.select_one("a[data-mfa-otpauth]")
    assert link.get_text(strip=True) == "Open in authenticator app"
    uri = urlparse(link["href"])
    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    shown = page.find(id="mfa-setup-key")["data-mfa-value"].replace(" ", "")
    assert parse_qs(uri.query)["secret"] == [shown]  # the same secret as the QR code and the setup key
    assert link["rel"] == ["noreferrer"]


# Tick boxes: the label beside the box; advice after the tick -----------------------------------------------


def test_reset_box_has_its_label_beside_it_and_its_error_under_it(client, tenants):
    sign_in(client, tenants.admin_a)
    url = f"/admin/company-mfa/companies/reset/{tenants.member_a.pk}/?company={tenants.a.pk}"
    page = soup(client.get(url))
    box = page.find(id="id_confirm")
    label = page.find("label", attrs={"for": "id_confirm"})
    assert label.get_text(strip=True) == "I have verified this person's request"
    assert label.find_previous("input") == box  # beside it, after it
    assert not label.select(".w-required-mark")
    assert box["aria-describedby"] == "id_confirm-helptext"

    page = soup(client.post(url, {"company": tenants.a.pk}))
    assert "Tick the box" in page.find(id="id_confirm-error").get_text()
    assert page.find(id="id_confirm")["aria-describedby"] == "id_confirm-helptext id_confirm-error"
    assert_described_by_elements_exist(page)


def test_new_device_advice_comes_after_the_tick_once_a_recovery_code_is_used(client, enrolled_user):
    password_login(client, enrolled_user)
    response = client.post(RECOVERY_URL, {"code": enrolled_user.recovery_codes[0]})
    assert response.status_code == 302
    page = soup(client.get(response.url))

    advice = page.select_one("[data-mfa-new-device]")
    assert "set up your authenticator app on your new device" in advice.get_text(" ", strip=True)
    assert advice in page.find(id="id_confirm").find_all_next("p")
    assert page.select_one("button[type=submit]") in advice.find_all_next("button")


# The Security tab's actions stay in the admin layout -------------------------------------------------------


def layout(response) -> str:
    return soup(response).select_one("[data-mfa-layout]")["data-mfa-layout"]


def test_replacing_the_authenticator_stays_in_the_admin_with_back_to_security(client, enrolled_user):
    sign_in(client, enrolled_user)
    response = client.get(ENROLL_URL)
    page = soup(response)

    assert layout(response) == "admin"
    assert page.select_one("#wagtail-sidebar") is not None  # Wagtail's admin, not the sign-in card
    assert page.select_one("[data-mfa-back]")["href"] == "/admin/account/#tab-security"
    assert "Security" in [a.get_text(strip=True) for a in page.select("nav[aria-label] a")]
    assert page.select_one("[data-mfa-sign-out]") is None


def test_new_recovery_code_stays_in_the_admin_without_a_way_round_saving_it(client, enrolled_user):
    sign_in(client, enrolled_user)
    response = client.post("/admin/company-mfa/security/new-recovery-code/")
    saved = client.get(response.url)

    assert layout(saved) == "admin"
    assert soup(saved).select_one("[data-mfa-back]") is None  # the code must be saved first
    assert soup(saved).find(id="mfa-recovery-code-1") is not None


def test_setting_up_early_stays_in_the_admin_to_the_end(client, upcoming_user):
    password_login(client, upcoming_user)
    page = client.get(ENROLL_URL)
    assert layout(page) == "admin"
    key = base64.b32decode(soup(page).find(id="mfa-setup-key")["data-mfa-value"].replace(" ", ""))
    response = client.post(ENROLL_URL, {"code": Authenticator(key).code()})
    assert layout(client.get(response.url)) == "admin"


def test_forced_setup_keeps_the_sign_in_layout(client, required_user):
    password_login(client, required_user)
    page = client.get(ENROLL_URL)
    assert layout(page) == "sign-in"
    key = base64.b32decode(soup(page).find(id="mfa-setup-key")["data-mfa-value"].replace(" ", ""))
    response = client.post(ENROLL_URL, {"code": Authenticator(key).code()})
    assert layout(client.get(response.url)) == "sign-in"
    assert layout(client.get(REAUTH_PATH)) == "admin"  # now signed in: the admin's own pages


def test_reauthenticating_from_the_admin_stays_in_the_admin(client, upcoming_user):
    password_login(client, upcoming_user)
    assert layout(client.get(REAUTH_PATH)) == "admin"


REAUTH_PATH = "/admin/company-mfa/reauthenticate/"
