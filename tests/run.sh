#!/usr/bin/env bash
# Set up and run the whole ganfx test suite: `bash tests/run.sh [pytest args]`.
# Installs ganfx with its cpu, train, dev and blender extras into the current Python.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# A CPU build of torch where none is present: a plain `pip install torch` fetches a multi-GB
# CUDA build. TORCH_INDEX_URL (e.g. https://download.pytorch.org/whl/cpu) picks the index.
if ! "$PY" -c "import torch" 2>/dev/null; then
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "$PY" -m pip install -q "torch==2.13.0" --index-url "$TORCH_INDEX_URL"
  else
    "$PY" -m pip install -q "torch==2.13.0"
  fi
fi

extras="cpu,train,dev,openvino,ray"
# Blender as a Python module (bpy) is built for CPython 3.11 (Blender 4.2-5.0) and 3.13 (5.1 and
# later); pip takes the newest bpy for this Python, and the Blender test skips on other Pythons.
# tests/blender_matrix.sh runs that test under each supported Blender release.
if "$PY" -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 13)))'; then
  extras="$extras,blender"
fi
"$PY" -m pip install -q -e ".[$extras]"

exec "$PY" -m pytest -q "$@"
