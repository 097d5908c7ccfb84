"""Languages of the page and its mails: gettext catalogs compiled by Babel.

English is the source language; every other language ships a ``.po`` and its compiled
``.mo`` under ``locale/`` (``python -m sip2d.web.catalogs compile`` regenerates them, and a
test fails when a shipped ``.mo`` is out of date or a message lacks a translation). A page is
shown in the visitor's choice (the ``lang`` cookie set by the language links), else the best
match of ``Accept-Language``; a mail in the patron's SIP2 language when it is one we have,
else in the language of the page the request came from.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

from babel import Locale, negotiate_locale
from babel.support import NullTranslations, Translations

LOCALE_DIR: Final = Path(__file__).parent / "locale"
DOMAIN: Final = "messages"
DEFAULT_LANGUAGE: Final = "en"
LANGUAGES: Final = ("en", "de")
# SIP2 language codes (section 5.9) of the languages we have.
SIP2_LANGUAGES: Final = {"001": "en", "003": "de"}


@functools.cache
def translations(language: str) -> NullTranslations:
    """The catalog for ``language`` (English: the identity)."""
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [language], DOMAIN)


def language_name(language: str) -> str:
    """The language's own name for itself, for the language links ("Deutsch")."""
    name: str = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def negotiate(accept_language: str, chosen: str = "") -> str:
    """The page language: an explicit choice, else the best ``Accept-Language`` match."""
    if chosen in LANGUAGES:
        return chosen
    preferred: list[tuple[float, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            preferred.append((-quality + index * 1e-6, tag.strip().replace("-", "_")))
    tags = [tag for _, tag in sorted(preferred)]
    found = negotiate_locale(tags, list(LANGUAGES), sep="_") if tags else None
    if found is None:
        # "de-AT" matches "de": negotiate_locale only aliases, so try the language part.
        for tag in tags:
            base = tag.split("_", 1)[0].lower()
            if base in LANGUAGES:
                return base
    return found or DEFAULT_LANGUAGE


def mail_language(sip2_code: str, page_language: str) -> str:
    """The patron's own language when the record names one we have, else the page's."""
    return SIP2_LANGUAGES.get(sip2_code, page_language if page_language in LANGUAGES else "en")
