#!/usr/bin/env bash
# Re-vendor KaTeX into docs/assets/katex from the npm registry.
# The build typesets every formula to MathML with katex.min.js (hooks/site.py, in an embedded V8);
# no page loads a KaTeX file, so neither its CSS nor its fonts are kept. Run this only to upgrade.
set -euo pipefail
version="${1:-0.16.47}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "katex@${version}" >/dev/null && tar xzf "katex-${version}.tgz")
dest="$root/docs/assets/katex"
rm -rf "$dest"
mkdir -p "$dest"
cp "$work/package/dist/katex.min.js" "$dest/"
cp "$work/package/LICENSE" "$dest/LICENSE.txt"
echo "$version" > "$dest/VERSION.txt"
echo "KaTeX $version vendored into $dest"
