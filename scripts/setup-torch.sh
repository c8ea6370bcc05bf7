#!/usr/bin/env bash
# Installs Debian's python3-torch for /usr/bin/python3 once, for the pretrained-weights parity test (a plain PyTorch
# GPT-2 in test/fixtures/gpt2_reference.py). Idempotent and never fatal: without torch that one test is skipped.
set -uo pipefail
# With OpenBLAS: python3-torch alone may bring the reference BLAS, 20x slower.
if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 && readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 | grep -q openblas; then exit 0; fi
if ! command -v apt-get >/dev/null; then echo "setup-torch: no apt-get; the PyTorch parity test will be skipped" >&2; exit 0; fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
echo "setup-torch: apt-get install python3-torch libopenblas0-pthread (once; a few minutes)" >&2
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch libopenblas0-pthread; } >&2; then
  echo "setup-torch: could not install python3-torch; the PyTorch parity test will be skipped" >&2
fi
exit 0
