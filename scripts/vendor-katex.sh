#!/usr/bin/env bash
# Re-vendor KaTeX into docs/assets/katex from the npm registry.
# The site serves math from its own files (no CDN); run this only to upgrade.
# Only the woff2 fonts are kept, and the CSS is rewritten to ask for nothing else.
set -euo pipefail
version="${1:-0.16.47}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "katex@${version}" >/dev/null && tar xzf "katex-${version}.tgz")
dest="$root/docs/assets/katex"
rm -rf "$dest"
mkdir -p "$dest/contrib" "$dest/fonts"
cp "$work/package/dist/katex.min.js" "$dest/"
cp "$work/package/dist/contrib/auto-render.min.js" "$dest/contrib/"
cp "$work/package/dist/fonts/"*.woff2 "$dest/fonts/"
cp "$work/package/LICENSE" "$dest/LICENSE.txt"
# Keep only the woff2 source of each @font-face.
sed -E 's/,url\(fonts\/[^)]*\.woff\) format\("woff"\),url\(fonts\/[^)]*\.ttf\) format\("truetype"\)//g' \
  "$work/package/dist/katex.min.css" > "$dest/katex.min.css"
if grep -qE '\.(woff|ttf)\)' "$dest/katex.min.css"; then
  echo "vendor-katex: the CSS still names woff/ttf fonts; update the sed expression" >&2
  exit 1
fi
echo "$version" > "$dest/VERSION.txt"
echo "KaTeX $version vendored into $dest"
