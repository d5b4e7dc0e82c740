from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WagtailCompanyMFAConfig(AppConfig):
    name = "wagtail_company_mfa"
    label = "wagtail_company_mfa"
    verbose_name = _("Company MFA")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.core import checks

        from . import checks as mfa_checks
        from . import receivers

        receivers.connect()

        # Every check guards against MFA being switched off, so all are `manage.py check --tag security`.
        for check in mfa_checks.ALL_CHECKS:
            checks.register(check, checks.Tags.security)
        for check in mfa_checks.DEPLOY_CHECKS:
            checks.register(check, checks.Tags.security, deploy=True)
