#!/usr/bin/env bash
# The Debian packages lstmkit uses beyond Python: espeak-ng synthesises the built-in speech
# corpora. Installed when missing and apt-get can (root, or sudo without a password); otherwise
# one line says what to install, and the set-up goes on (the speech built-ins then say it again).
set -uo pipefail
if command -v espeak-ng >/dev/null; then
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="none"; fi
fi
if [ "$sudo" != none ] && command -v apt-get >/dev/null \
    && { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null 2>&1 \
        || { $sudo apt-get update -qq >/dev/null 2>&1 \
            && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null 2>&1; }; }; then
    echo "set-up: installed espeak-ng (the built-in speech corpora)"
else
    echo "set-up: espeak-ng is not installed and could not be; the built-in speech corpora need it (apt-get install espeak-ng)"
fi
exit 0
