#!/usr/bin/env bash
# Verdicts of ncx12 and pyx12 side by side on a directory of 837P/837I files.
#
#   benches/scripts/agree-pyx12.sh [DIR]   (default: fixtures/public)
#
# Installs pyx12 4.0.0 in a venv (once), builds `x12` in release mode, and prints one
# line per file: pyx12's verdict (OK / number of errors), ours at SNIP 1-2 (the levels
# pyx12 checks) and ours at all levels, and whether the SNIP 1-2 verdicts agree. pyx12
# exits 1 even on success, so its verdict is read from its output. Files pyx12 has no
# map for (278, 837D, 277CA, 999 X231) are skipped. Both tools read the same normalized
# copy of each file: byte-order mark and indentation removed, and the version labels
# pyx12 has no map for (X222, X222A2, X223, X223A3) relabelled to the ones it has
# (X222A1, X223A2), as fixtures-public/SOURCES.tsv describes.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${1:-$root/fixtures/public}"
venv="${PYX12_VENV:-/tmp/pyx12-venv}"
[ -x "$venv/bin/x12valid" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q pyx12==4.0.0; }
(cd "$root" && cargo build -q --release --bin x12)
x12="$root/target/release/x12"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf '%-62s %-10s %-10s %-10s %s\n' file pyx12 ours-snip2 ours-all agree
agree=0; differ=0
while IFS= read -r f; do
  head -c 2000 "$f" | grep -qE 'ST.837' || continue
  label=$(head -c 4000 "$f" | grep -oE '005010X22[234][A-Z0-9]*' | head -1 || true)
  case "$label" in 005010X224*) continue ;; esac
  norm="$tmp/$(basename "$f")"
  python3 - "$f" "$norm" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
if data.startswith(b"\xef\xbb\xbf"):
    data = data[3:]
data = re.sub(rb"(\n|\r)[ \t]+", rb"\1", data.lstrip())
data = re.sub(rb"005010X222(A2)?(?=[~*\n\r|'^])", b"005010X222A1", data)
data = re.sub(rb"005010X223(A3|A1)?(?=[~*\n\r|'^])", b"005010X223A2", data)
open(sys.argv[2], "wb").write(data)
PY
  f="$norm"
  out=$("$venv/bin/x12valid" "$f" 2>&1 || true)
  verdict=$(grep -E ': (OK|Failure)$' <<<"$out" | tail -n 1 || true)
  n=$(grep -c ' ERROR ' <<<"$out" || true)
  case "$verdict" in
    *": OK") p="OK" ;;
    *": Failure") p="ERR($n)" ;;
    *) p="CRASH" ;;
  esac
  s2=$( { "$x12" validate --max-snip 2 --format json "$f" || true; } | python3 -c 'import json,sys; d=json.load(sys.stdin); e=[i for i in d["issues"] if i["severity"]=="error"]; print("OK" if not e else "ERR(%d)"%len(e))')
  sa=$( { "$x12" validate --format json "$f" || true; } | python3 -c 'import json,sys; d=json.load(sys.stdin); e=[i for i in d["issues"] if i["severity"]=="error"]; print("OK" if not e else "ERR(%d)"%len(e))')
  if [ "${p%%(*}" = "${s2%%(*}" ]; then a=yes; agree=$((agree+1)); else a=NO; differ=$((differ+1)); fi
  printf '%-62s %-10s %-10s %-10s %s\n' "$(basename "$f")" "$p" "$s2" "$sa" "$a"
done < <(find "$dir" -type f ! -name '*.json' ! -name '*.md' ! -name '*.tsv' | sort)
echo "agree: $agree, differ: $differ"
