"""RFC 6238 / RFC 4226 vectors through the code path we use, and the product's acceptance rules."""

import base64

import pytest
from cryptography.hazmat.primitives.hashes import SHA1, SHA256, SHA512

from wagtail_company_mfa.totp import algorithm as totp

SEED_SHA1 = b"12345678901234567890"
SEED_SHA256 = b"12345678901234567890123456789012"
SEED_SHA512 = b"1234567890123456789012345678901234567890123456789012345678901234"

# SECURITY.md §2.1: RFC 6238 Appendix B, 8 digits, X = 30, T0 = 0.
RFC6238_APPENDIX_B = [
    (59, "94287082", SHA1, SEED_SHA1),
    (59, "46119246", SHA256, SEED_SHA256),
    (59, "90693936", SHA512, SEED_SHA512),
    (1111111109, "07081804", SHA1, SEED_SHA1),
    (1111111109, "68084774", SHA256, SEED_SHA256),
    (1111111109, "25091201", SHA512, SEED_SHA512),
    (1111111111, "14050471", SHA1, SEED_SHA1),
    (1111111111, "67062674", SHA256, SEED_SHA256),
    (1111111111, "99943326", SHA512, SEED_SHA512),
    (1234567890, "89005924", SHA1, SEED_SHA1),
    (1234567890, "91819424", SHA256, SEED_SHA256),
    (1234567890, "93441116", SHA512, SEED_SHA512),
    (2000000000, "69279037", SHA1, SEED_SHA1),
    (2000000000, "90698825", SHA256, SEED_SHA256),
    (2000000000, "38618901", SHA512, SEED_SHA512),
    (20000000000, "65353130", SHA1, SEED_SHA1),
    (20000000000, "77737706", SHA256, SEED_SHA256),
    (20000000000, "47863826", SHA512, SEED_SHA512),
]


@pytest.mark.parametrize(("unix_time", "expected", "algorithm", "seed"), RFC6238_APPENDIX_B)
def test_rfc6238_appendix_b(unix_time, expected, algorithm, seed):  # SEC-01
    assert totp.code_at(seed, unix_time, digits=8, algorithm=algorithm()) == expected


@pytest.mark.parametrize(
    ("unix_time", "expected"),
    [
        (59, "287082"),
        (1111111109, "081804"),
        (1234567890, "005924"),
        (2000000000, "279037"),
        (20000000000, "353130"),
    ],
)
def test_six_digit_codes_keep_leading_zeros(unix_time, expected):  # SEC-01, SEC-02, SEC-07 (beyond 2038)
    assert totp.code_at(SEED_SHA1, unix_time) == expected


RFC4226_APPENDIX_D = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226_APPENDIX_D)))
def test_rfc4226_appendix_d(counter, expected):  # SEC-01: TOTP at t is HOTP at floor(t / 30)
    assert totp.code_at(SEED_SHA1, counter * 30) == expected
    assert totp.matching_step(SEED_SHA1, expected, now=counter * 30) == counter


@pytest.mark.parametrize(
    ("code", "accepted_step"),
    [("359152", None), ("969429", 3), ("338314", 4), ("254676", 5), ("287922", None)],
)
def test_window_is_current_step_plus_minus_one(code, accepted_step):  # SEC-04, SEC-09
    assert totp.matching_step(SEED_SHA1, code, now=120) == accepted_step


def test_replay_and_older_codes_are_refused_after_a_newer_one():  # SEC-05
    assert totp.matching_step(SEED_SHA1, "254676", now=120) == 5
    assert totp.matching_step(SEED_SHA1, "254676", now=120, after=5) is None  # the same code again
    assert totp.matching_step(SEED_SHA1, "338314", now=120, after=5) is None  # an older one
    assert totp.matching_step(SEED_SHA1, "287922", now=150, after=5) == 6  # the next step is fine


@pytest.mark.parametrize(
    "variant",
    [
        "１２３４５６",  # full-width digits
        "١٢٣٤٥٦",  # Arabic-Indic digits
        "1_2_3_4_5_6",
        "+123456",
        "00123456",
        "12345",
        "1234567",
        "12345a",
        "",
        None,
        123456,
        "123456\x00",
        "12３456",
    ],
)
def test_only_six_ascii_digits_are_a_code(variant):  # SEC-08
    assert totp.canonical_code(variant) is None


@pytest.mark.parametrize("spaced", ["123456", " 123456 ", "123 456", "12 34 56", "\t123456\n"])
def test_ascii_whitespace_is_ignored(spaced):  # SEC-08
    assert totp.canonical_code(spaced) == "123456"


def test_lookalike_input_never_matches_a_real_code():  # SEC-08
    code = totp.code_at(SEED_SHA1, 1_000_000)
    fullwidth = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert totp.matching_step(SEED_SHA1, code, now=1_000_000) is not None
    assert totp.matching_step(SEED_SHA1, fullwidth, now=1_000_000) is None
    assert totp.matching_step(SEED_SHA1, "+" + code, now=1_000_000) is None


def test_generated_secrets_are_160_bits_and_unique():  # SEC-03
    keys = {totp.generate_key() for _ in range(200)}
    assert len(keys) == 200
    assert all(len(key) == 20 for key in keys)


def test_setup_key_is_unpadded_base32_in_groups():  # SEC-24
    key = base64.b32decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
    assert totp.encode_key(key) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp.grouped_key(key) == "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"


def test_provisioning_uri_follows_the_key_uri_format():  # SEC-24
    uri = totp.provisioning_uri(SEED_SHA1, account="alice@acme.example", issuer="Acme: CMS")
    assert uri.startswith("otpauth://totp/Acme%20CMS:alice%40acme.example?")
    assert "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" in uri
    assert "issuer=Acme+CMS" in uri
    for parameter in ("algorithm=SHA1", "digits=6", "period=30"):
        assert parameter in uri
    assert "=" not in uri.split("secret=")[1].split("&")[0]


def test_qr_code_is_inline_svg_drawn_here():  # SEC-23
    svg = totp.qr_code_svg("otpauth://totp/x:y?secret=ABC", title="QR")
    assert svg.startswith("<svg")
    assert "<title>QR</title>" in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")
