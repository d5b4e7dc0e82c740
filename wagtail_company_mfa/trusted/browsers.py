"""A short description of a browser from its User-Agent ("Chrome on macOS"), for the Security tab."""

from __future__ import annotations

from django.utils.translation import gettext as _

#: Checked in order: the first match names the browser (Edge and Opera also say "Chrome", Chrome "Safari").
BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
SYSTEMS = (
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Windows", "Windows"),
    ("Linux", "Linux"),
)
MAX_LENGTH = 100


def describe(user_agent: str) -> str:
    """ "Chrome on macOS", "Firefox", "Unknown browser"; never longer than :data:`MAX_LENGTH`."""
    user_agent = (user_agent or "")[:512]
    browser = next((name for marker, name in BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in SYSTEMS if marker in user_agent), "")
    if browser and system:
        text = _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    else:
        text = browser or system or _("Unknown browser")
    return text[:MAX_LENGTH]
