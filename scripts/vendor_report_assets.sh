#!/usr/bin/env bash
# Re-fetch the front-end files the Great Expectations Data Docs pages load from public CDNs, from the
# npm registry, into expectations/static/vendor/ (with each package's licence), so the data-quality
# report renders offline. expectations/report.py rewrites the CDN URLs in the generated pages to these
# copies (its ASSETS table maps each CDN URL to a file below: keep the two in step).
#
# Font Awesome: only the .woff2 fonts (all.min.css lists them before the .ttf fallbacks, which every
# current browser skips).
#
# Versions are the ones GE 1.24's templates pin (great_expectations/render/view/templates/*.j2), and for
# the unpinned `vega@5`, `vega-lite@5`, `vega-embed@6` the versions below.
#
# Usage: scripts/vendor_report_assets.sh        (needs node + npm; run from anywhere)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/expectations/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# package@version  dest-dir  files (relative to the package root)...
PACKAGES=(
  "bootstrap@4.3.1|bootstrap|dist/css/bootstrap.min.css dist/js/bootstrap.min.js"
  "jquery@3.7.1|jquery|dist/jquery.min.js"
  "popper.js@1.12.9|popper.js|dist/umd/popper.min.js"
  "bootstrap-table@1.19.1|bootstrap-table|dist/bootstrap-table.min.css dist/bootstrap-table.min.js dist/extensions/filter-control/bootstrap-table-filter-control.min.js dist/extensions/filter-control/bootstrap-table-filter-control.min.css dist/extensions/filter-control/bootstrap-table-filter-control.css"
  "bootstrap-datepicker@1.9.0|bootstrap-datepicker|dist/css/bootstrap-datepicker.min.css dist/js/bootstrap-datepicker.min.js"
  "@forevolve/bootstrap-dark@1.1.0|bootstrap-dark|dist/css/bootstrap-prefers-dark.min.css"
  "@fortawesome/fontawesome-free@6.6.0|fontawesome-free|css/all.min.css webfonts/fa-brands-400.woff2 webfonts/fa-regular-400.woff2 webfonts/fa-solid-900.woff2 webfonts/fa-v4compatibility.woff2"
  "vega@5.33.1|vega|build/vega.min.js"
  "vega-lite@5.23.0|vega-lite|build/vega-lite.min.js"
  "vega-embed@6.29.0|vega-embed|build/vega-embed.min.js"
)

rm -rf "$DEST.new"
mkdir -p "$DEST.new"
{
  echo "# Vendored front-end assets of the data-quality report"
  echo
  echo "Fetched from the npm registry by scripts/vendor_report_assets.sh; do not edit by hand."
  echo
  echo "| package | version | licence | files |"
  echo "|---|---|---|---|"
} >"$DEST.new/README.md"

for entry in "${PACKAGES[@]}"; do
  IFS='|' read -r spec dir files <<<"$entry"
  (cd "$WORK" && npm pack --silent "$spec" >/dev/null)
  tgz="$(ls -t "$WORK"/*.tgz | head -1)"
  mkdir -p "$WORK/x" && rm -rf "$WORK/x/package" && tar xzf "$tgz" -C "$WORK/x" && rm -f "$tgz"
  pkg="$WORK/x/package"
  out="$DEST.new/$dir"
  mkdir -p "$out"
  for f in $files; do
    mkdir -p "$out/$(dirname "$f")"
    cp "$pkg/$f" "$out/$f"
  done
  # Source maps are not shipped: drop the comment pointing to them (a missing map only logs an error).
  find "$out" -type f \( -name '*.js' -o -name '*.css' \) | while read -r f; do
    sed -i -E 's@^//# sourceMappingURL=.*$@@; s@/\*# sourceMappingURL=[^*]*\*/@@' "$f"
  done
  license_id="$(node -p "const p=require('$pkg/package.json'); p.license || (p.licenses||[]).map(l=>l.type).join(' OR ')")"
  version="$(node -p "require('$pkg/package.json').version")"
  copied=""
  for lic in LICENSE LICENSE.txt LICENSE.md license LICENCE; do
    if [[ -f "$pkg/$lic" ]]; then cp "$pkg/$lic" "$out/LICENSE.txt"; copied=1; break; fi
  done
  if [[ -z "$copied" ]]; then
    # The npm package ships no licence file (popper.js 1.12.9, vega 5.33.1): record what it declares.
    {
      echo "The npm package $spec ships no licence file."
      echo "package.json declares: \"license\": \"$license_id\""
      echo "author: $(node -p "const a=require('$pkg/package.json').author; typeof a==='string'?a:(a&&a.name)||''")"
      echo "repository: $(node -p "const r=require('$pkg/package.json').repository; typeof r==='string'?r:(r&&r.url)||''")"
      echo
      echo "Licence header of the vendored file(s), where present:"
      for f in $files; do
        node -e "const m=require('fs').readFileSync(process.argv[1],'utf8').match(/^\\s*\\/\\*[\\s\\S]*?\\*\\//); if (m) console.log(m[0].trim())" "$pkg/$f"
      done
    } >"$out/LICENSE.txt"
  fi
  size="$(du -sk "$out" | cut -f1)"
  echo "| ${spec%@*} | $version | $license_id | $(echo "$files" | wc -w) files, ${size} KB |" >>"$DEST.new/README.md"
  echo "vendored $spec -> expectations/static/vendor/$dir (${size} KB)"
done

rm -rf "$DEST"
mv "$DEST.new" "$DEST"
echo "total: $(du -sh "$DEST" | cut -f1) in $DEST"
