#!/usr/bin/env bash
# Translation catalogues for MotID (Flask-Babel, idp/translations/<lang>/LC_MESSAGES/messages.{po,mo}).
#
#   scripts/i18n.sh            extract, update and compile (the usual run after changing strings)
#   scripts/i18n.sh extract    idp/**.py and idp/templates -> idp/translations/messages.pot (see babel.cfg)
#   scripts/i18n.sh update     merge messages.pot into every language (creates a missing catalogue)
#   scripts/i18n.sh compile    messages.po -> messages.mo for every language (the .mo files are committed)
#
# Several commands may be given in order, e.g. `scripts/i18n.sh extract update`.
# Then translate every new (empty) or "#, fuzzy" entry of idp/translations/vi/LC_MESSAGES/messages.po,
# delete the fuzzy flags and run `scripts/i18n.sh compile`; tests/test_i18n_catalogue.py fails until then.
# The message ids are the English text: the en catalogue stays untranslated and falls back to them.
#
# PYBABEL overrides the pybabel executable (default: .venv/bin/pybabel).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYBABEL=${PYBABEL:-.venv/bin/pybabel}
TRANSLATIONS=idp/translations
POT=$TRANSLATIONS/messages.pot
LANGS=(vi en)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

extract() {
    local version
    version=$(sed -n 's/^version *= *//p' setup.cfg)
    # Keywords must match tests/test_i18n_catalogue.py: _, gettext, ngettext... are babel's defaults.
    "$PYBABEL" -q extract -F babel.cfg -k _l -k lazy_gettext \
        --no-location --sort-output --add-comments=TRANSLATORS: \
        --project=MotID --version="${version:-0}" --copyright-holder="MotID contributors" \
        -o "$work/messages.pot" .
    # Keep the old template when only its creation date changed, so a run without new strings changes no file.
    if [[ -f $POT ]] && diff -q <(grep -v '^"POT-Creation-Date: ' "$POT") \
                                <(grep -v '^"POT-Creation-Date: ' "$work/messages.pot") >/dev/null; then
        echo "$POT: unchanged"
    else
        cat "$work/messages.pot" >"$POT"
        echo "$POT: extracted"
    fi
}

update() {
    local lang po
    for lang in "${LANGS[@]}"; do
        po=$TRANSLATIONS/$lang/LC_MESSAGES/messages.po
        if [[ -f $po ]]; then
            if [[ $lang == en ]]; then
                # Nothing is translated into English, so fuzzy guesses would only add noise.
                "$PYBABEL" -q update -i "$POT" -d "$TRANSLATIONS" -l "$lang" --no-fuzzy-matching
            else
                # Changed strings come back "#, fuzzy" with the old text (#| msgid) for the translator.
                "$PYBABEL" -q update -i "$POT" -d "$TRANSLATIONS" -l "$lang" --previous
            fi
        else
            "$PYBABEL" -q init -i "$POT" -d "$TRANSLATIONS" -l "$lang"
            # A new catalogue's header is marked fuzzy, and pybabel compile skips a fuzzy catalogue entirely.
            # (Also drop the FIRST AUTHOR placeholder line.)
            awk '/^# FIRST AUTHOR <EMAIL@ADDRESS>/ { next }
                 !done && /^#, fuzzy$/ { done = 1; next } { print }' "$po" >"$work/new.po"
            cat "$work/new.po" >"$po"
            echo "$po: created"
        fi
    done
}

compile() {
    local lang
    for lang in "${LANGS[@]}"; do
        "$PYBABEL" compile -d "$TRANSLATIONS" -l "$lang" --statistics
    done
}

mkdir -p "$TRANSLATIONS"
if [[ $# -eq 0 ]]; then
    set -- extract update compile
fi
for command in "$@"; do
    case $command in
        extract | update | compile) "$command" ;;
        all) extract; update; compile ;;
        *) echo "usage: $0 [extract|update|compile|all]..." >&2; exit 2 ;;
    esac
done
