"""Keeping the page's translations complete and compiled: ``python -m sip2d.web.catalogs``.

* ``extract`` collects every message of the page, its mails and the PIN policy into
  ``locale/messages.pot`` and merges new ones into each language's ``.po``;
* ``compile`` writes each ``.mo`` from its ``.po`` (the ``.mo`` files are shipped, so an
  installed sip2d needs no build step);
* ``check`` exits non-zero when a message is missing from a ``.po``, lacks a translation, or a
  shipped ``.mo`` differs from what its ``.po`` compiles to. The test suite runs it.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from sip2d.web.i18n import DEFAULT_LANGUAGE, DOMAIN, LANGUAGES, LOCALE_DIR

PACKAGE: Final = Path(__file__).resolve().parent.parent
KEYWORDS: Final = {"_": None, "gettext": None, "t": None}
JINJA_OPTIONS: Final = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}


def _messages() -> Iterator[tuple[str, str, int]]:
    """(message, file, line) for every translatable string."""
    for directory in (PACKAGE / "web", PACKAGE / "mail"):
        method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
        options = {"**/templates/**.html": JINJA_OPTIONS}
        for filename, lineno, message, _comments, _context in extract_from_dir(
            directory, method_map, options, keywords=KEYWORDS
        ):
            if isinstance(message, str):
                yield message, f"{directory.name}/{filename}", lineno
    policy = PACKAGE / "auth" / "policy.py"
    for lineno, message, _comments, _context in extract_from_file(
        "python", policy, keywords=KEYWORDS
    ):
        if isinstance(message, str):
            yield message, "auth/policy.py", lineno


def template() -> Catalog:
    catalog = Catalog(project="sip2d", domain=DOMAIN)
    for message, filename, lineno in _messages():
        catalog.add(message, locations=[(filename, lineno)])
    return catalog


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(language: str) -> Catalog:
    with po_path(language).open("rb") as fh:
        return read_po(fh, locale=language)


def compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def translated_languages() -> list[str]:
    return [language for language in LANGUAGES if language != DEFAULT_LANGUAGE]


def extract() -> None:
    pot = template()
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as fh:
        write_po(fh, pot, omit_header=True, sort_output=True)
    for language in translated_languages():
        catalog = read_catalog(language)
        catalog.update(pot, no_fuzzy_matching=True)
        with po_path(language).open("wb") as fh:
            write_po(fh, catalog, sort_output=True, ignore_obsolete=True, omit_header=False)


def compile_all() -> None:
    for language in translated_languages():
        po_path(language).with_suffix(".mo").write_bytes(compiled(read_catalog(language)))


def problems() -> list[str]:
    found: list[str] = []
    wanted = {message for message, _, _ in _messages()}
    for language in translated_languages():
        catalog = read_catalog(language)
        for message in sorted(wanted):
            entry = catalog.get(message)
            if entry is None:
                found.append(f"{language}: missing {message!r} (run extract)")
            elif not entry.string or entry.fuzzy:
                found.append(f"{language}: no translation for {message!r}")
        mo = po_path(language).with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compiled(catalog):
            found.append(f"{language}: {mo.name} is not compiled from the .po (run compile)")
    return found


def main(argv: list[str]) -> int:
    action = argv[0] if argv else "check"
    if action == "extract":
        extract()
    elif action == "compile":
        compile_all()
    elif action == "check":
        found = problems()
        for problem in found:
            print(problem)
        return 1 if found else 0
    else:
        print("usage: python -m sip2d.web.catalogs extract|compile|check")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
