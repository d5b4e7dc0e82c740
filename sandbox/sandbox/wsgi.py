"""WSGI entry point for the sandbox. Development only: the sandbox runs with ``DEBUG = True``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox.settings")

application = get_wsgi_application()
