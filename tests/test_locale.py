"""The Dutch translation: shipped, complete, compiled, and used by the pages, messages and emails."""

from __future__ import annotations

import ast
import datetime
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone, translation
from factories import make_user, password_login, verify_with_code
from wagtail.users.models import UserProfile

import wagtail_company_mfa
from wagtail_company_mfa.base.view_helpers import retry_message
from wagtail_company_mfa.models import CompanyMembership
from wagtail_company_mfa.notices import emails

LOCALE_DIR = Path(wagtail_company_mfa.__file__).parent / "locale"
NL_PO = LOCALE_DIR / "nl" / "LC_MESSAGES" / "django.po"
CATALOGUES = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/django.po"))
VERIFY_URL = "/admin/company-mfa/verify/"

MSGFMT = shutil.which("msgfmt")
needs_msgfmt = pytest.mark.skipif(MSGFMT is None, reason="GNU gettext's msgfmt is not installed")


def language(po: Path) -> str:
    return po.parent.parent.name


def text(response) -> str:
    return html.unescape(response.content.decode())


def prefers_dutch(user):
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = "nl"
    profile.save()
    return user


def email_text(message) -> str:
    return "\n".join([message.subject, message.body, *(content for content, _type in message.alternatives)])


# Pages and messages -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_verify_page_is_in_dutch(client, enrolled_user, settings):
    settings.LANGUAGE_CODE = "nl"
    password_login(client, enrolled_user)

    page = text(client.get(VERIFY_URL))

    assert "Bevestig je identiteit" in page
    assert "Voer de 6-cijferige code uit je authenticator-app in." in page
    assert "Gebruik in plaats daarvan een herstelcode" in page
    assert "Verify your identity" not in page


@pytest.mark.django_db
def test_wrong_code_message_is_in_dutch(client, enrolled_user, settings):
    settings.LANGUAGE_CODE = "nl"
    password_login(client, enrolled_user)
    valid = {enrolled_user.phone.code(steps=step) for step in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)

    response = verify_with_code(client, wrong)

    assert response.status_code == 200
    assert "Die code werkte niet. Controleer je authenticator-app en probeer het opnieuw." in text(response)


def test_python_strings_and_plurals_use_the_catalogue():
    with translation.override("nl"):
        assert str(CompanyMembership.Role.ADMIN.label) == "Beheerder"
        assert str(CompanyMembership.Role.MEMBER.label) == "Lid"
        message = retry_message(timezone.now() + datetime.timedelta(minutes=10))
    assert message == "Te veel verkeerde codes. Je kunt het over 10 minuten opnieuw proberen."


# Emails -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_security_email_follows_the_users_wagtail_language(settings):
    settings.WAGTAIL_COMPANY_MFA_ISSUER = "Voorbeeld"
    dutch = prefers_dutch(make_user("dirk", first_name="Dirk"))
    english = make_user("emma", first_name="Emma")

    message = emails.build_email(dutch, "enrolled", {"replaced": False})
    other = emails.build_email(english, "enrolled", {"replaced": False})

    assert message.subject == "Tweestapsverificatie staat aan voor Voorbeeld"
    assert message.body.startswith("Hallo Dirk,")
    (html_body, _type) = message.alternatives[0]
    assert "Was jij dit niet? Neem dan direct contact op met je beheerder." in html_body
    assert "We vragen je nooit per e-mail om een code of een herstelcode." in html_body
    assert "Two-factor" not in email_text(message)
    assert other.subject == "Two-factor authentication is on for Voorbeeld"
    assert translation.get_language() == "en"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        (1, "daarna 1 keer een verkeerde verificatiecode."),
        (5, "daarna 5 keer achter elkaar een verkeerde verificatiecode."),
    ],
    ids=["one", "other"],
)
def test_email_plural_forms_are_translated(failures, expected):
    user = prefers_dutch(make_user("dirk"))

    message = emails.build_email(user, "throttled", {"failure_count": failures})

    assert expected in " ".join(message.body.split())
    assert message.subject.startswith("Herhaaldelijk verkeerde inlogcodes op ")


# The catalogue ----------------------------------------------------------------------------------------------


def po_entries(path: Path) -> list[dict[str, str]]:
    """The entries of a .po file as {keyword: text}, header first: enough for the files msgfmt accepts."""
    entries, entry, keyword = [], {}, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry:
                entries.append(entry)
            entry, keyword = {}, None
        elif line.startswith("#,"):
            entry["flags"] = line[2:].strip()
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[keyword] += ast.literal_eval(line)
        else:
            keyword, _space, quoted = line.partition(" ")
            entry[keyword] = ast.literal_eval(quoted)
    return entries


def header_fields(path: Path) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in po_entries(path)[0]["msgstr"].splitlines())


def test_the_package_ships_a_dutch_catalogue():
    assert NL_PO in CATALOGUES


def test_dutch_catalogue_header():
    header = po_entries(NL_PO)[0]
    assert header["msgid"] == ""
    assert "fuzzy" not in header.get("flags", "")
    fields = header_fields(NL_PO)
    assert fields["Language"] == "nl"
    assert fields["Content-Type"] == "text/plain; charset=UTF-8"
    assert fields["Plural-Forms"] == "nplurals=2; plural=(n != 1);"


@pytest.mark.parametrize("po", CATALOGUES, ids=language)
def test_every_message_is_translated_and_keeps_its_placeholders(po):
    assert header_fields(po)["Language"] == language(po)
    nplurals = int(re.search(r"nplurals=(\d+)", header_fields(po)["Plural-Forms"]).group(1))
    placeholders = re.compile(r"%\(\w+\)[sd]|</?[a-z][^>]*>")
    entries = po_entries(po)[1:]
    assert len(entries) > 300
    for entry in entries:
        assert "fuzzy" not in entry.get("flags", ""), entry["msgid"]
        sources = [entry["msgid"], entry.get("msgid_plural", entry["msgid"])]
        translations = [value for key, value in entry.items() if key.startswith("msgstr")]
        assert len(translations) == (nplurals if "msgid_plural" in entry else 1), entry["msgid"]
        for index, translation_text in enumerate(translations):
            source = sources[min(index, 1)]
            assert translation_text, f"untranslated: {source!r}"
            assert sorted(placeholders.findall(translation_text)) == sorted(placeholders.findall(source)), (
                source
            )


@needs_msgfmt
@pytest.mark.parametrize("po", CATALOGUES, ids=language)
def test_msgfmt_accepts_the_catalogue_with_nothing_untranslated_or_fuzzy(po):
    result = subprocess.run(  # noqa: S603 (a fixed command on our own file)
        [MSGFMT, "--check", "--statistics", "-o", os.devnull, str(po)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\d+ translated messages\.\n", result.stderr), result.stderr


@needs_msgfmt
@pytest.mark.parametrize("po", CATALOGUES, ids=language)
def test_committed_mo_is_compiled_from_the_current_po(po, tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(  # noqa: S603 (a fixed command on our own file)
        [MSGFMT, "--check-format", "-o", str(compiled), str(po)],
        check=True,
        capture_output=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    committed = po.with_suffix(".mo")
    assert committed.exists(), "run `django-admin compilemessages` in wagtail_company_mfa/"
    assert committed.read_bytes() == compiled.read_bytes(), (
        f"{committed.name} of {language(po)} is stale: run `django-admin compilemessages`"
    )


@pytest.mark.parametrize(
    ("language", "member", "admin"),
    [("en", "member", "administrator"), ("de", "Mitglied", "Administrator"), ("nl", "lid", "beheerder")],
)
def test_roles_inside_sentences_are_words_of_their_own_not_lowercased_labels(language, member, admin):
    """German capitalises nouns: "als Mitglied hinzugefügt", never a lowercased "mitglied"."""
    from wagtail_company_mfa.companies.permissions import role_in_sentence

    with translation.override(language):
        assert (role_in_sentence("member"), role_in_sentence("admin")) == (member, admin)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "heading"),
    [
        ("de", "Wählen Sie, wie Sie sich anmelden"),
        ("fr", "Choisissez votre mode de connexion"),
        ("es", "Elige cómo iniciar sesión"),
        ("pt-br", "Escolha como entrar"),
        ("nl", "Kies hoe je inlogt"),
    ],
)
def test_the_choice_of_method_is_translated(client, upcoming_user, settings, language, heading):
    settings.LANGUAGE_CODE = language
    password_login(client, upcoming_user)
    page = text(client.get("/admin/company-mfa/enroll/choose/"))
    assert heading in page
    assert "Choose how to sign in" not in page
    assert "Select an authentication method" not in page


# The passkey pages' status messages ----------------------------------------------------------------------


LIBRARY_JS_LANGUAGES = {"de", "es", "it", "nl"}  # django-otp-webauthn ships these djangojs catalogues itself


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("fr", "Vérification réussie !"),
        ("pt-br", "Verificação concluída!"),
        ("nl", "Verificatie voltooid!"),
        ("de", None),
    ],
)
def test_passkey_status_messages_come_in_each_language(client, settings, enrolled_user, code, expected):
    """django-otp-webauthn's front end has no French or Brazilian Portuguese: the package fills them in."""
    from django.urls import reverse

    settings.LANGUAGE_CODE = code
    password_login(client, enrolled_user)  # the verify page loads the catalogue before the second factor
    response = client.get(reverse("wagtail_company_mfa:passkey_jsi18n"), HTTP_ACCEPT_LANGUAGE=code)
    assert response.status_code == 200
    # JavaScriptCatalog writes the catalogue as a JSON object into its script.
    found = re.search(r"const newcatalog = (\{.*?\});\n", response.content.decode(), re.S)
    catalogue = json.loads(found.group(1))
    if expected is not None:
        assert catalogue["Verification successful!"] == expected
    else:  # the library's own German
        assert catalogue["Verification successful!"] not in ("", "Verification successful!")


def test_the_package_fills_in_exactly_the_front_end_languages_the_library_lacks():
    import django_otp_webauthn

    library = Path(django_otp_webauthn.__file__).parent / "locale"
    library_js = {po.parent.parent.name for po in library.glob("*/LC_MESSAGES/djangojs.po")}
    assert library_js >= LIBRARY_JS_LANGUAGES
    ours = {po.parent.parent.name for po in LOCALE_DIR.glob("*/LC_MESSAGES/djangojs.po")}
    assert ours == {language(po) for po in CATALOGUES} - library_js
    library_ids = _msgids(library / "nl" / "LC_MESSAGES" / "djangojs.po")
    for po in LOCALE_DIR.glob("*/LC_MESSAGES/djangojs.po"):
        assert _msgids(po) == library_ids, po
        assert (po.with_suffix(".mo")).exists()


def _msgids(po: Path) -> set[str]:
    entries, untranslated = set(), []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        joined = "\n".join(lines)
        match = re.match(r'msgid ((?:".*"\n?)+)msgstr ((?:".*"\n?)+)', joined)
        if not match:
            continue
        msgid = "".join(re.findall(r'"(.*)"', match.group(1)))
        msgstr = "".join(re.findall(r'"(.*)"', match.group(2)))
        if msgid:
            entries.add(msgid)
            if not msgstr:
                untranslated.append(msgid)
    assert not untranslated, (po, untranslated)
    return entries
