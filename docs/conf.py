"""Sphinx configuration for the wagtail-company-mfa documentation (Markdown with MyST, the furo theme)."""

import datetime
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Read the version without importing the package (which would need Django settings).
_init = (ROOT / "wagtail_company_mfa" / "__init__.py").read_text(encoding="utf-8")
release = re.search(r'^__version__ = "([^"]+)"', _init, re.MULTILINE).group(1)
version = ".".join(release.split(".")[:2])

project = "wagtail-company-mfa"
author = "The wagtail-company-mfa developers"
copyright = f"{datetime.date.today().year}, {author}"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
# Headings up to ### get anchors, so pages can link to a setting: settings.md#wagtail_company_mfa_enforce
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"wagtail-company-mfa {release}"
