"""Every word the pages, figures and messages show has its Chinese, and the language is the
user's own, else the browser's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from dashboards import words
from dashboards.i18n import LOCALE_DIR, choose_language

ROOT = Path(__file__).resolve().parents[2]
_CALLS = re.compile(r"""(?:\b_|gettext)\(\s*(["'])((?:(?!\1)[^\\]|\\.)*)\1\s*[,)]""")


def _used() -> set[str]:
    texts: set[str] = set()
    sources = [
        *(ROOT / "dashboards" / "templates").glob("*.html"),
        *(ROOT / "dashboards" / "figures").glob("*.py"),
        ROOT / "service" / "alerting" / "messages.py",
    ]
    for path in sources:
        texts |= {m.group(2).replace("\\'", "'") for m in _CALLS.finditer(path.read_text())}
    for table in (words.RULES, words.SEVERITIES, words.STATES, words.CONDITIONS):
        texts |= set(table.values())
    return texts


def test_every_text_has_its_chinese():
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "linli.po").open("rb") as po:
        catalog = read_po(po)
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog
        if m.id and (m.string[0] if isinstance(m.string, tuple) else m.string)
    }
    used = _used()
    assert len(used) > 150  # the scan finds the texts at all
    assert sorted(used - translated) == []


@pytest.mark.parametrize(
    ("preferred", "header", "language"),
    [
        ("en", "zh-CN,zh;q=0.9", "en"),  # the user's own choice first
        (None, "en-GB,en;q=0.9,zh;q=0.8", "en"),
        (None, "fr-FR,zh-TW;q=0.8,en;q=0.5", "zh-CN"),
        (None, "fr;q=1.0, en;q=0.2", "en"),
        (None, None, "zh-CN"),
        ("klingon", "de", "zh-CN"),
    ],
)
def test_the_language_is_the_users_then_the_browsers(preferred, header, language):
    assert choose_language(preferred, header) == language
