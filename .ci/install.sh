#!/usr/bin/env bash
# The one place that says how Gradient Lab's Python dependencies are installed.
# The Dockerfile RUNs it and CI runs it in a clean venv, so both get the very same commands.
#
#   .ci/install.sh gpu   requirements.txt + the CUDA wheels (tensorflow[and-cuda]) at the same pin
#   .ci/install.sh cpu   requirements.txt exactly
#   .ci/install.sh dev   requirements-dev.txt (runtime pins + test/lint tools), for CI
#
# Uses whichever `python` is first on PATH (the venv's in CI, the image's in Docker).
set -euo pipefail

variant="${1:-gpu}"
cd "$(dirname "$0")/.."

# The CUDA extra must carry requirements.txt's own tensorflow pin (any other makes pip fail
# or swap TensorFlow); read it from the file so the two can never drift.
tf_pin="$(grep -m 1 -oE '^tensorflow==[^[:space:]#]+' requirements.txt || true)"
if [[ -z "$tf_pin" ]]; then
    echo "install.sh: requirements.txt has no 'tensorflow==<version>' line; pin it there." >&2
    exit 2
fi

case "$variant" in
    gpu) python -m pip install --no-cache-dir -r requirements.txt "tensorflow[and-cuda]==${tf_pin#tensorflow==}" ;;
    cpu) python -m pip install --no-cache-dir -r requirements.txt ;;
    dev) python -m pip install --no-cache-dir -r requirements-dev.txt ;;
    *)
        echo "install.sh: variant must be one of 'gpu', 'cpu', 'dev', got '$variant'." >&2
        exit 2
        ;;
esac
