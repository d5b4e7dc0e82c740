"""Validation of companies and memberships: clear errors for bad input, nothing half-saved."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from factories import join, make_company, make_user

from wagtail_company_mfa.models import Company, CompanyMembership

pytestmark = pytest.mark.django_db


def test_valid_company_passes_full_clean():
    company = Company(
        name="Acme",
        slug="acme",
        time_zone="Pacific/Kiritimati",
        require_mfa=True,
        enforcement_date=dt.date(2027, 1, 1),
        new_member_grace_days=14,
    )
    company.full_clean()


def test_negative_grace_period_is_refused():
    company = Company(name="Acme", slug="acme", new_member_grace_days=-1)
    with pytest.raises(ValidationError) as excinfo:
        company.full_clean()
    assert excinfo.value.message_dict["new_member_grace_days"] == ["The grace period cannot be negative."]


def test_grace_period_has_an_upper_bound():
    company = Company(name="Acme", slug="acme", new_member_grace_days=366)
    with pytest.raises(ValidationError) as excinfo:
        company.full_clean()
    assert excinfo.value.message_dict["new_member_grace_days"] == [
        "The grace period can be at most 365 days."
    ]


def test_grace_period_bound_is_also_a_database_constraint():
    company = make_company("Acme")
    with pytest.raises(IntegrityError), transaction.atomic():
        Company.objects.filter(pk=company.pk).update(new_member_grace_days=1000)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "utc+2", "../../etc/passwd", "Europe/"])
def test_unknown_time_zone_is_refused(zone):
    company = Company(name="Acme", slug="acme", time_zone=zone)
    with pytest.raises(ValidationError) as excinfo:
        company.full_clean()
    assert "time_zone" in excinfo.value.message_dict
    if zone:
        assert f"“{zone}” is not a time zone this site knows" in excinfo.value.message_dict["time_zone"][0]


def test_switch_on_without_a_date_is_refused():
    company = Company(name="Acme", slug="acme", require_mfa=True)
    with pytest.raises(ValidationError) as excinfo:
        company.full_clean()
    assert excinfo.value.message_dict["enforcement_date"] == [
        "Choose the date from which members must use MFA."
    ]


def test_new_companies_get_the_configured_time_zone(settings):
    settings.WAGTAIL_COMPANY_MFA_DEFAULT_TIME_ZONE = "Europe/Amsterdam"
    assert Company(name="Acme", slug="acme").time_zone == "Europe/Amsterdam"
    settings.WAGTAIL_COMPANY_MFA_DEFAULT_TIME_ZONE = None
    settings.TIME_ZONE = "America/Chicago"
    assert Company(name="Beta", slug="beta").time_zone == "America/Chicago"


def test_enforcement_instant_is_aware_and_local_midnight():
    company = Company(
        name="Acme", slug="acme", time_zone="Europe/Amsterdam", enforcement_date=dt.date(2027, 7, 1)
    )
    assert company.enforcement_starts_at == dt.datetime(2027, 6, 30, 22, 0, tzinfo=dt.timezone.utc)
    assert Company(name="No date", slug="x").enforcement_starts_at is None


def test_second_membership_of_the_same_pair_is_refused_with_a_clear_message():
    user, company = make_user("pat"), make_company("Acme")
    join(user, company)
    duplicate = CompanyMembership(user=user, company=company)
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    assert "This person is already a member of this company." in str(excinfo.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    assert CompanyMembership.objects.filter(user=user, company=company).count() == 1


def test_same_user_may_join_several_companies():
    user = make_user("dave")
    join(user, make_company("Acme"))
    join(user, make_company("Cedar"))
    assert user.company_memberships.count() == 2


def test_string_forms():
    company = make_company("Acme")
    membership = join(make_user("pat"), company)
    assert str(company) == "Acme"
    assert "Acme" in str(membership)
