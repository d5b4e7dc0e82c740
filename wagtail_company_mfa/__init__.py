"""Company-by-company multi-factor authentication for Wagtail."""

__version__ = "0.1.0.dev0"
