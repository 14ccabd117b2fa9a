#!/usr/bin/env bash
# Regenerates the guide tables that come from pyx12's maps (837P, 837I, 277CA here,
# the 999 in x12-core/guides). The 837D table is written by hand from public guide
# pages (see its source lines). Needs network access to PyPI once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${PYX12_VENV:-/tmp/pyx12-venv}"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q pyx12==4.0.0; }
map="$("$venv/bin/python" -c 'import pyx12, os; print(os.path.join(os.path.dirname(pyx12.__file__), "map"))')"
ver="$("$venv/bin/pip" show pyx12 | sed -n 's/^Version: //p')"
conv=(python3 "$here/from-pyx12.py" --pyx12-version "$ver" --dataele "$map/dataele.xml")
"${conv[@]}" --map "$map/837.5010.X222.A1.xml" --id 837P --version 005010X222A1 --transaction 837 HC \
  --alias 005010X222 --alias 005010X222A2 --context "CLM 01" > "$here/837p.guide"
"${conv[@]}" --map "$map/837Q3.I.5010.X223.A1.xml" --id 837I --version 005010X223A2 --transaction 837 HC \
  --alias 005010X223 --alias 005010X223A1 --alias 005010X223A3 --context "CLM 01" > "$here/837i.guide"
"${conv[@]}" --map "$map/277.5010.X214.xml" --id 277CA --version 005010X214 --transaction 277 HN > "$here/277ca.guide"
"${conv[@]}" --map "$map/999.5010X231.A1.xml" --id 999 --version 005010X231A1 --transaction 999 FA \
  --alias 005010X231 --dataele-override 447=AN:1-6 --dataele-override 719=N0:1-10 \
  --source "IK302 (719) N0 1-10 and IK303 (447) AN 1-6 per the 5010 data element dictionary as published at www.stedi.com/edi/x12/segment/IK3 (pyx12's dataele.xml carries the 4010 lengths)" \
  > "$here/../../x12-core/guides/999.guide"
