"""Linli's words in two languages: one gettext catalog (Babel) for pages and messages alike.

The English text is the message id; `locale/zh_CN/LC_MESSAGES/linli.po` holds the Chinese.
The .po file is compiled in memory when first used, so nothing is built at install time.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"


@functools.cache
def translations(language: str) -> NullTranslations:
    """The catalog of `language` ("zh-CN" or "en"), compiled from its .po file once."""
    po = LOCALE_DIR / language.replace("-", "_") / "LC_MESSAGES" / "linli.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language.replace("-", "_"))
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def choose_language(preferred: str | None, accept_language: str | None) -> str:
    """The user's own language if set, else the first of the browser's Linli speaks."""
    if preferred in LANGUAGES:
        return preferred
    for language in _accepted(accept_language or ""):
        if language.lower().startswith("zh"):
            return "zh-CN"
        if language.lower().startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


def _accepted(header: str) -> Iterable[str]:
    """Languages of an Accept-Language header, most wanted first."""
    weighted = []
    for index, part in enumerate(header.split(",")):
        name, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if name:
            weighted.append((-weight, index, name))
    return [name for _, _, name in sorted(weighted)]
