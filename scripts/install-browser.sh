#!/usr/bin/env bash
# Make sure the browser test (tests/test_browser.py) has a Chromium: `make test` runs this.
# Already there ($CHROMIUM, chromium, chromium-browser, google-chrome): nothing to do.
# Missing: install Debian's `chromium` with apt-get, as root or with password-less sudo.
# Neither possible: say so and carry on; the browser test then skips loudly,
# or fails where CI=true.
set -euo pipefail

for candidate in "${CHROMIUM:-}" chromium chromium-browser google-chrome google-chrome-stable; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1; then
    exit 0
  fi
done

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: no Chromium and no apt-get: install Chromium (or set CHROMIUM=/path/to/chrome)," \
    "or the browser test skips (fails under CI=true)." >&2
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install-browser: no Chromium, and apt-get needs root: run 'sudo apt-get install chromium'," \
    "or the browser test skips (fails under CI=true)." >&2
  exit 0
fi

echo "install-browser: installing Debian's chromium with apt-get (about a minute)..." >&2
export DEBIAN_FRONTEND=noninteractive
if timeout 600 "${as_root[@]}" apt-get update -qq \
  && timeout 900 "${as_root[@]}" apt-get install -y -qq chromium >/dev/null; then
  echo "install-browser: $(chromium --version 2>/dev/null | tail -n 1)" >&2
else
  echo "install-browser: apt-get could not install chromium: the browser test skips (fails under CI=true)." >&2
fi
