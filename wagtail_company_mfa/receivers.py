"""Signal receivers, connected in ``AppConfig.ready()``."""

from django.contrib.auth.signals import user_logged_in

from . import session


def remember_password_step(sender, request, user, **kwargs):
    """
    Record when the password was entered: it starts the short-lived pending state (SEC-29) and the
    re-authentication window (SEC-25).
    """
    if request is not None and hasattr(request, "session"):
        session.mark_password(request.session)


def connect():
    user_logged_in.connect(remember_password_step, dispatch_uid="wagtail_company_mfa.remember_password_step")
