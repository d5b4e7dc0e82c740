"""
The company form and its panels: the policy editor of the company administration (the member and reset
forms are in :mod:`.member_forms`).

The form leaves out the name and slug unless the user manages every company (Wagtail's panel permissions
remove the fields from the form itself, not just from the page), so a company administrator cannot set a
field the screen does not show (mass assignment, SEC-41).
"""

from __future__ import annotations

import copy
import datetime
import functools
import zoneinfo

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, MultiFieldPanel, ObjectList, Panel, TitleFieldPanel
from wagtail.admin.widgets.slug import SlugInput
from wagtail.admin.widgets.switch import SwitchInput

from .. import factors
from ..models import AllowedMethods, Company, TrustPeriod
from . import permissions
from .enrollment import summarize, summary_sentence
from .flows import POLICY_FIELDS


@functools.cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class CompanyForm(WagtailAdminModelForm):
    """The company and its MFA policy. The time zone is picked from a list of IANA names."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "time_zone" in self.fields:
            self.fields["time_zone"].widget = forms.Select(choices=time_zone_choices())

    def clean_allowed_methods(self):
        value = self.cleaned_data.get("allowed_methods")
        if value == AllowedMethods.PHISHING_RESISTANT and not any(
            factor.phishing_resistant for factor in factors.enrolling_factors()
        ):
            raise forms.ValidationError(
                _(
                    "Passkeys are not set up on this site, so members would have no method left. Ask the "
                    "site administrator to install them (see the documentation, “Passkeys”)."
                )
            )
        return value


class PolicyPreviewForm(forms.ModelForm):
    """The policy fields alone, to read the values of a form being edited for the preview."""

    class Meta:
        model = Company
        fields = POLICY_FIELDS


def preview_company(saved, form) -> Company:
    """
    A copy of ``saved`` (a company, or a new one) with the valid policy values of the validated ``form``; a
    value the form refused stays the saved one. Nothing is saved.
    """
    company = copy.copy(saved)
    cleaned = getattr(form, "cleaned_data", None) or {}
    for name in POLICY_FIELDS:
        if name in cleaned and name not in form.errors:
            setattr(company, name, cleaned[name])
    # An emptied date is a value of its own (the form refuses it only together with the switch on): the
    # preview then says that MFA will be required once a date is chosen.
    if "enforcement_date" in form.fields and not form.data.get("enforcement_date"):
        company.enforcement_date = None
    return company


def saved_company(instance) -> Company:
    """The company as stored (the form's instance holds the submitted values), or a new one."""
    if instance is None or instance.pk is None:
        return Company()
    return type(instance)._default_manager.get(pk=instance.pk)


def preview_context(company, *, report_url: str = "") -> dict:
    """What the preview says about ``company``'s policy (saved or not): the one source of its sentences."""
    now = timezone.now()
    summary = summarize(company, now=now)
    return {
        "company": company,
        "summary": summary,
        "sentence": summary_sentence(company, summary, now=now),
        "starts": describe_start(company),
        "report_url": report_url,
    }


class PolicyPreviewPanel(Panel):
    """
    What the policy means, in words, computed on the server: "From 3 March 2027, 42 members must use MFA;
    17 have enrolled.", the instant the date starts in the company's time zone and in the editing
    administrator's own, and what saving will do. It follows the form as it is edited: a small script
    (``policy_preview.js``) asks the preview URL for the same text for the values in the form, and the
    page announces it politely. Without the script it shows the saved policy, or the submitted values after
    a submission.
    """

    def __init__(self, report_url_name: str | None = None, preview_url_name: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.report_url_name = report_url_name
        self.preview_url_name = preview_url_name

    def clone_kwargs(self):
        return {
            **super().clone_kwargs(),
            "report_url_name": self.report_url_name,
            "preview_url_name": self.preview_url_name,
        }

    class BoundPanel(Panel.BoundPanel):
        template_name = "wagtail_company_mfa/companies/policy_preview_panel.html"

        class Media:
            js = ["wagtail_company_mfa/policy_preview.js"]

        def preview_url(self) -> str:
            if not self.panel.preview_url_name:
                return ""
            if self.instance is not None and self.instance.pk is not None:
                return reverse(self.panel.preview_url_name, args=[self.instance.pk])
            return reverse(self.panel.preview_url_name)

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            company = saved_company(self.instance)
            if self.form is not None and self.form.is_bound:
                company = preview_company(company, self.form)
            report_url = (
                reverse(self.panel.report_url_name, args=[company.pk])
                if self.panel.report_url_name and company.pk is not None
                else ""
            )
            context.update(preview_context(company, report_url=report_url), preview_url=self.preview_url())
            return context


def describe_start(company) -> dict | None:
    """
    When the enforcement date begins, for the preview: in the company's time zone (always 00:00) and in
    the current (the editing administrator's) time zone, if that differs.
    """
    if company.enforcement_date is None:
        return None
    try:
        instant = company.enforcement_starts_at
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    own_zone = timezone.get_current_timezone()
    local = timezone.localtime(instant, own_zone)
    company_local = instant.astimezone(company.zone)
    return {
        "date": date_format(company.enforcement_date, "DATE_FORMAT"),
        "company_zone": company.time_zone,
        "instant": instant,
        "own_zone": timezone.get_current_timezone_name(),
        "own_local": date_format(local, "DATETIME_FORMAT"),
        "same_zone": local.utcoffset() == company_local.utcoffset() and local.date() == company_local.date(),
    }


class NameFieldPanel(TitleFieldPanel):
    """
    The company's name, which fills in the slug as it is typed on a new company, with Wagtail's own
    ``w-sync`` and ``w-slug`` controllers. An existing company's slug is left as it is.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("classname", "")
        kwargs.setdefault("placeholder", False)
        super().__init__(*args, **kwargs)

    class BoundPanel(TitleFieldPanel.BoundPanel):
        def get_should_apply(self):
            return self.instance is None or self.instance.pk is None


def company_edit_handler(
    report_url_name: str | None = None, preview_url_name: str | None = None
) -> ObjectList:
    manage_all = permissions.MANAGE_ALL_COMPANIES
    return ObjectList(
        [
            MultiFieldPanel(
                [
                    NameFieldPanel("name", permission=manage_all, disable_comments=True),
                    FieldPanel("slug", widget=SlugInput, permission=manage_all, disable_comments=True),
                ],
                heading=_("Company"),
            ),
            MultiFieldPanel(
                [
                    FieldPanel("require_mfa", widget=SwitchInput, disable_comments=True),
                    FieldPanel("enforcement_date", disable_comments=True),
                    FieldPanel("time_zone", disable_comments=True),
                    FieldPanel("new_member_grace_days", disable_comments=True),
                    FieldPanel("allowed_methods", widget=forms.RadioSelect, disable_comments=True),
                    FieldPanel("trust_browser_for", widget=forms.RadioSelect, disable_comments=True),
                    PolicyPreviewPanel(
                        report_url_name=report_url_name,
                        preview_url_name=preview_url_name,
                        heading=_("What this means"),
                    ),
                ],
                heading=_("Two-factor authentication policy"),
            ),
        ],
        base_form_class=CompanyForm,
    )


def format_policy_value(name: str, value) -> str:
    """A policy value as the audit log and messages show it."""
    if value is None or value == "":
        return gettext("none")
    if name == "require_mfa":
        return gettext("on") if value in (True, "true", "True") else gettext("off")
    if name == "enforcement_date":
        if isinstance(value, str):
            try:
                value = datetime.date.fromisoformat(value)
            except ValueError:
                return value
        return date_format(value, "DATE_FORMAT")
    if name == "allowed_methods":
        try:
            return str(AllowedMethods(value).label)
        except ValueError:
            return str(value)
    if name == "trust_browser_for":
        try:
            return str(TrustPeriod(int(value)).label)
        except (ValueError, TypeError):
            return str(value)
    return str(value)
