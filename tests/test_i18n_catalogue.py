"""The Vietnamese catalogue translates every message of the code, and the committed .mo files match the .po files.

Runs pybabel extraction (babel.cfg, same keywords as scripts/i18n.sh) into a temporary template, so a new
``_()``/``_l()`` string, in Python or in a template, fails here until it is translated. To fix a failure:
``scripts/i18n.sh``, translate the empty or fuzzy entries of idp/translations/vi/LC_MESSAGES/messages.po
(and remove their ``#, fuzzy`` flags), then ``scripts/i18n.sh compile``.

Deliberately independent of the application and of the fixtures in conftest.py.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "idp" / "translations"
LANGUAGES = ("vi", "en")
FIX = "run scripts/i18n.sh, translate idp/translations/vi/LC_MESSAGES/messages.po, then scripts/i18n.sh compile"


def _key(value):
    """Plural ids and strings come as tuples or lists; make them comparable."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _texts(value) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _po(lang: str) -> Catalog:
    path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing: {FIX}"
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def _placeholders(text: str) -> set[str] | None:
    """The %(name)s keys a string formats with (Jinja's gettext always applies ``%``), None if it cannot format."""
    used: set[str] = set()

    class Recorder(dict):
        def __missing__(self, key):
            used.add(key)
            return 1

    try:
        text % Recorder()
    except (ValueError, TypeError, KeyError):
        return None
    return used


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Catalog:
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    # Keep the keywords in step with scripts/i18n.sh.
    result = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "--no-location", "-o", str(pot), "."],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"pybabel extract failed:\n{result.stdout}{result.stderr}"
    with pot.open("rb") as f:
        catalog = read_po(f)
    assert len([m for m in catalog if m.id]) > 50, "extraction found suspiciously few messages; check babel.cfg"
    return catalog


@pytest.fixture(scope="module")
def vi() -> Catalog:
    return _po("vi")


def test_every_message_is_translated_into_vietnamese(extracted, vi):
    problems = []
    for message in extracted:
        if not message.id:
            continue
        entry = vi.get(message.id, message.context)
        if entry is None:
            problems.append(f"not in vi catalogue: {message.id!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif not all(s.strip() for s in _texts(entry.string)):
            problems.append(f"untranslated: {message.id!r}")
    assert not problems, f"{len(problems)} Vietnamese message(s) need work ({FIX}):\n" + "\n".join(problems)


def test_english_catalogue_lists_every_message(extracted):
    en = _po("en")
    missing = [m.id for m in extracted if m.id and en.get(m.id, m.context) is None]
    assert not missing, f"not in en catalogue ({FIX}): {missing}"


def test_vietnamese_translations_keep_placeholders(vi):
    problems = [f"{message.id!r}: {'; '.join(errors)}" for message, errors in vi.check() if errors]
    for message in vi:
        if not message.id or not message.string:
            continue
        for source, translation in zip(_texts(message.id), _texts(message.string)):
            expected = _placeholders(source)
            if expected is not None and _placeholders(translation) != expected:
                problems.append(f"{source!r} -> {translation!r}: placeholders must be exactly "
                                f"{sorted(expected)} and any literal % written %%")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalogue_matches_po(lang):
    po = _po(lang)
    assert not po.fuzzy, f"the {lang} catalogue header is marked fuzzy, so pybabel compile skips it"
    mo_path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo"
    assert mo_path.is_file(), f"{mo_path.relative_to(ROOT)} is missing: run scripts/i18n.sh compile"
    with mo_path.open("rb") as f:
        mo = read_mo(f)
    # pybabel compile writes exactly the translated, non-fuzzy entries.
    expected = {(_key(m.id), m.context): _key(m.string) for m in po
                if m.id and not m.fuzzy and all(_texts(m.string))}
    compiled = {(_key(m.id), m.context): _key(m.string) for m in mo if m.id}
    stale = sorted(str(k[0]) for k in expected.keys() | compiled.keys() if expected.get(k) != compiled.get(k))
    assert not stale, (f"{mo_path.relative_to(ROOT)} is out of date with messages.po "
                       f"(run scripts/i18n.sh compile); differing: {stale[:10]}")
