"""
The forms of a company's members and of a reset (docs/admin-guide.md).

None of them lets a company administrator set a field the screen does not show (mass assignment, SEC-41):
the company of a membership always comes from the URL, never from the submitted data, and the member forms
carry only a role and an active flag.
"""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..models import CompanyMembership
from .enrollment import user_fields, user_name_ordering, user_search_fields

#: Fewer characters than this in the member search finds nobody, so the list of users cannot be read off.
MIN_SEARCH_LENGTH = 2
#: At most this many people are listed for one member search.
MAX_SEARCH_RESULTS = 20


# Members ----------------------------------------------------------------------------------------------------


class MembershipForm(forms.Form):
    """
    A member's role and whether they are active: the only two things that change on a membership. The
    company and the person come from the URL and are never fields (SEC-41).
    """

    role = forms.ChoiceField(label=_("Role"), choices=CompanyMembership.Role.choices)
    is_active = forms.BooleanField(
        label=_("Active member"),
        required=False,
        help_text=_(
            "An inactive member is no longer bound by this company's policy. Reactivating someone restarts "
            "their grace period."
        ),
    )


def eligible_users(company):
    """People who may be added to ``company``: active accounts that are not active members already."""
    User = get_user_model()
    active_members = CompanyMembership.objects.filter(company_id=company.pk, is_active=True).values("user_id")
    return User.objects.filter(is_active=True).exclude(pk__in=active_members)


def search_users(queryset, query: str):
    """Users of ``queryset`` whose name, username or email contains ``query`` (capped, sorted by name)."""
    query = query.strip()
    if len(query) < MIN_SEARCH_LENGTH:
        return queryset.none()
    condition = Q()
    for name in user_search_fields():
        condition |= Q(**{f"{name}__icontains": query})
    words = query.split()
    names = [name for name in ("first_name", "last_name") if name in user_search_fields()]
    if len(words) > 1 and len(names) == 2:
        condition |= Q(first_name__icontains=words[0], last_name__icontains=" ".join(words[1:]))
    return queryset.filter(condition).order_by(*user_name_ordering())[:MAX_SEARCH_RESULTS]


class MemberSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Find a person by name or email"),
        required=False,
        max_length=255,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class AddMemberForm(forms.Form):
    """
    Add one person to the company of the URL. ``user`` is limited to :func:`eligible_users`; the company is
    not a field at all, so a submitted ``company`` is ignored (SEC-41).
    """

    user: forms.ModelChoiceField = forms.ModelChoiceField(queryset=None, widget=forms.HiddenInput)
    role = forms.ChoiceField(label=_("Role"), choices=CompanyMembership.Role.choices)

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.company = company
        user_field = cast("forms.ModelChoiceField", self.fields["user"])
        user_field.queryset = eligible_users(company)
        user_field.error_messages["invalid_choice"] = _(
            "That person cannot be added: they are a member already, or their account is inactive."
        )


def find_user_exactly(identifier: str):
    """
    The one active user whose username or email address is exactly ``identifier`` (letter case aside), as
    ``(user, ambiguous)``: ``(None, False)`` when nobody matches, ``(None, True)`` when several accounts share
    the email address. A username that matches exactly, case included, wins over everything else.
    """
    User = get_user_model()
    identifier = identifier.strip()
    if not identifier:
        return None, False
    active = User._default_manager.filter(is_active=True)
    exact = list(active.filter(**{User.USERNAME_FIELD: identifier})[:2])
    if len(exact) == 1:
        return exact[0], False
    condition = Q()
    for name in user_fields(User.USERNAME_FIELD, User.get_email_field_name()):
        condition |= Q(**{f"{name}__iexact": identifier})
    matches = list(active.filter(condition).order_by("pk")[:2])
    if len(matches) == 1:
        return matches[0], False
    return None, len(matches) > 1


class AddMemberByIdentifierForm(forms.Form):
    """
    Add one person by their exact email address or username, the way a company administrator adds people:
    they may not browse or search the site's users (the people of other companies are not theirs to see), so
    only a complete, exact identifier finds someone, and a miss says nothing about who else exists.
    """

    identifier = forms.CharField(
        label=_("Email address or username"),
        max_length=255,
        help_text=_("The exact email address or username of the person's account on this site."),
        error_messages={"required": _("Enter the person's email address or username.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    role = forms.ChoiceField(label=_("Role"), choices=CompanyMembership.Role.choices)

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.company = company

    def clean_identifier(self):
        user, ambiguous = find_user_exactly(self.cleaned_data["identifier"])
        if ambiguous:
            raise forms.ValidationError(
                _("More than one account uses that email address. Enter the username instead."),
                code="ambiguous",
            )
        if user is None:
            # The same answer for an unknown, a partial and an inactive account: nothing to learn from it.
            raise forms.ValidationError(_("No user with that email or username."), code="not_found")
        self.cleaned_data["user"] = user
        return self.cleaned_data["identifier"]


# Reset ------------------------------------------------------------------------------------------------------


class ResetForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I have verified this person's request"),
        help_text=_(
            "Confirm who they are the way your organisation requires (for example, in person, or with a call "
            "to a number you already have) before you reset their two-factor authentication."
        ),
        error_messages={
            "required": _("Tick the box to confirm you have verified this person's request."),
        },
    )
