#!/usr/bin/env bash
# Side-by-side: ncx12 against pyx12 and linuxforhealth-x12 on the same generated 837P
# batches, wall time, MB/s and peak RSS, medians of interleaved runs.
#
#   benches/compare.sh [SIZES] [REPEATS]     e.g. benches/compare.sh "5MB 50MB" 3
#
# Installs the peers in a venv (once), builds our release binaries, generates the
# batches with the fixtures generator. pyx12 exits 1 even on success: its verdict is
# read from its output.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${PEERS_VENV:-/tmp/ncx12-peers-venv}"
if [ ! -x "$venv/bin/x12valid" ] || ! "$venv/bin/python" -c 'import linuxforhealth.x12' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q pyx12==4.0.0 linuxforhealth-x12 'pydantic<2'
fi
(cd "$root" && cargo build -q --release --bin x12 --bin gen)
exec python3 "$root/benches/scripts/compare.py" --root "$root" --venv "$venv" --sizes "${1:-5MB 50MB}" --repeats "${2:-3}"
