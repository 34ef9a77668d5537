#!/usr/bin/env bash
# Run the Blender extension's tests under each supported Blender release, one result line each:
#
#   bash tests/blender_matrix.sh             # bpy 4.2, 4.5, 5.0 and 5.3
#   bash tests/blender_matrix.sh 4.2 5.0     # just these
#
# Each release's bpy lives in its own venv, made once and then reused, in
# ${XDG_CACHE_HOME:-~/.cache}/ganfx/blender-matrix/bpy-SERIES. A venv holds bpy and what bpy itself
# needs, nothing else: no ganfx, onnxruntime, PyAV or OpenCV, as in a Blender's own Python, so the
# extension must run from the wheels packed in its zip. The tests run in the current Python
# (PYTHON, default python3; it needs ganfx and its dev extras, as `bash tests/run.sh` installs
# them) and run the Blender session in the release's venv (GANFX_BLENDER_PYTHON).
# Blender 4.2-5.0 run Python 3.11 (PYTHON311, default python3.11), 5.1 and later Python 3.13
# (PYTHON313, default python3.13). A release whose Python is missing here is reported as skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/ganfx/blender-matrix
mkdir -p "$CACHE/logs"
[ $# -gt 0 ] || set -- 4.2 4.5 5.0 5.3

status=0
for series in "$@"; do
  case $series in
    # Blender 4.2-5.0 bundle numpy 1.26; bpy 4.2's wheel does not pin it, so say it here.
    4.*|5.0) base=${PYTHON311:-python3.11}; extra=("numpy>=1.26,<2") ;;
    *) base=${PYTHON313:-python3.13}; extra=() ;;
  esac
  venv=$CACHE/bpy-$series
  log=$CACHE/logs/bpy-$series.log
  if [ ! -f "$venv/.ready" ]; then  # made once; .ready marks a complete install
    if ! command -v "$base" >/dev/null; then
      echo "bpy $series: skipped ($base not found)"
      continue
    fi
    rm -rf "$venv"
    if ! { "$base" -m venv "$venv" && "$venv/bin/python" -m pip install -q "bpy==$series.*" "${extra[@]}"; } \
        >"$log" 2>&1; then
      echo "bpy $series: FAILED to install (log: $log)"
      status=1
      continue
    fi
    touch "$venv/.ready"
  fi
  version=$("$venv/bin/python" -c 'import importlib.metadata as m, sys
print(m.version("bpy"), "(Python %d.%d)" % sys.version_info[:2])')
  start=$SECONDS
  GANFX_BLENDER_PYTHON="$venv/bin/python" "$PY" -m pytest -p no:cacheprovider -q -rs -m blender \
    tests/plugin/test_blender.py >"$log" 2>&1
  rc=$?
  summary=$(grep -E "passed|failed|skipped|error" "$log" | tail -1)
  if [ $rc -eq 0 ] && [[ $summary == *passed* ]] && [[ $summary != *skipped* ]]; then
    echo "bpy $version: passed in $((SECONDS - start)) s"
  else
    echo "bpy $version: FAILED: ${summary:-pytest exit $rc} (log: $log)"
    status=1
  fi
done
exit $status
