#!/usr/bin/env bash
# Print the path of a uv to use: the one on PATH, or a pinned one installed
# (once) into .tools/ from PyPI with the system Python. No curl | sh.
set -euo pipefail
UV_VERSION="0.13.8"
if command -v uv >/dev/null 2>&1; then
  command -v uv
  exit 0
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
tool="$here/.tools/uv"
if [ ! -x "$tool/bin/uv" ]; then
  python3 -m venv "$tool" >&2 || { echo "python3 -m venv failed: install python3-venv (sudo apt-get install -y python3-venv)" >&2; exit 1; }
  "$tool/bin/pip" install --quiet "uv==$UV_VERSION" >&2
fi
echo "$tool/bin/uv"
