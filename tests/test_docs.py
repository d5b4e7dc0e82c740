"""What docs/installation.md tells a site builder holds for the package as installed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.apps import apps
from django.test import override_settings

from wagtail_company_mfa import checks

DOCS = Path(__file__).resolve().parent.parent / "docs"
PACKAGE_TEMPLATES = Path(apps.get_app_config("wagtail_company_mfa").path) / "templates"


def python_blocks(page: str) -> list[str]:
    text = (DOCS / page).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def documented_list(page: str, name: str) -> list[str]:
    """The string entries of the first ``NAME = [...]`` in the page's Python blocks."""
    for block in python_blocks(page):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
                return [elt.value for elt in node.value.elts if isinstance(elt, ast.Constant)]
    raise AssertionError(f"{page} shows no {name} = [...]")


def test_django_otp_core_has_no_tables():
    """The page says `migrate` creates nothing for django_otp: its core app has no models of its own."""
    config = next(config for config in apps.get_app_configs() if config.name == "django_otp")
    assert list(config.get_models()) == []


def test_app_position_does_not_matter_because_no_template_is_overridden():
    """The apps may go anywhere in INSTALLED_APPS: no template of Wagtail or Django is shadowed."""
    top_level = {path.name for path in PACKAGE_TEMPLATES.iterdir()}
    assert top_level == {"wagtail_company_mfa"}


def test_documented_middleware_order_passes_the_checks():
    middleware = documented_list("installation.md", "MIDDLEWARE")
    assert "wagtail_company_mfa.middleware.CompanyMFAMiddleware" in middleware
    with override_settings(MIDDLEWARE=middleware):
        assert checks.check_middleware() == []


def test_documented_apps_are_the_ones_needed():
    documented = documented_list("installation.md", "INSTALLED_APPS")
    assert "wagtail_company_mfa" in documented
    assert "django_otp" in documented
