#!/usr/bin/env bash
# Builds the star_kernels N-API addon (native/) with OpenBLAS linked statically, strips it and copies it to
# prebuilds/<platform>-<arch>/star_kernels.node, which is committed so installs need no compiler.
# Needs: g++, make, python3 (node-gyp), Node headers (Debian's nodejs ships them under /usr/include/node),
# and Debian's libopenblas-dev (static libopenblas.a). Nothing is downloaded except apt packages if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

OPENBLAS_DIR=${OPENBLAS_DIR:-/usr/lib/x86_64-linux-gnu/openblas-pthread}
OPENBLAS_INCLUDE=${OPENBLAS_INCLUDE:-/usr/include/x86_64-linux-gnu/openblas-pthread}

if [ ! -f "$OPENBLAS_DIR/libopenblas.a" ] || [ ! -f "$OPENBLAS_INCLUDE/cblas.h" ]; then
  echo "build-native: installing libopenblas-dev" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq libopenblas-dev
fi

# node-gyp: a global one, else npm's bundled copy.
if command -v node-gyp >/dev/null 2>&1; then
  GYP=(node-gyp)
else
  NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  GYP_JS="$NPM_DIR/node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$GYP_JS" ] || GYP_JS="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
  GYP=(node "$GYP_JS")
fi

# Build against the installed Node's headers (no header download).
NODEDIR=${NODEDIR:-$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")}
if [ ! -f "$NODEDIR/include/node/node_api.h" ]; then
  echo "build-native: no Node headers under $NODEDIR/include/node (set NODEDIR)" >&2
  exit 1
fi

(cd native && "${GYP[@]}" rebuild --nodedir="$NODEDIR" \
  -- -Dopenblas_dir="$OPENBLAS_DIR" -Dopenblas_include="$OPENBLAS_INCLUDE")

PLATFORM=$(node -p 'process.platform + "-" + process.arch')
mkdir -p "prebuilds/$PLATFORM"
OUT="prebuilds/$PLATFORM/star_kernels.node"
cp native/build/Release/star_kernels.node "$OUT.tmp"
strip --strip-unneeded "$OUT.tmp"
mv "$OUT.tmp" "$OUT"

# Self-contained: only the C runtime may be needed.
if command -v ldd >/dev/null 2>&1; then
  EXTRA=$(ldd "$OUT" | grep -vE 'linux-vdso|libc\.so|libm\.so|libpthread\.so|libdl\.so|ld-linux' || true)
  if [ -n "$EXTRA" ]; then echo "build-native: unexpected dynamic dependencies:" >&2; echo "$EXTRA" >&2; exit 1; fi
fi
node -e "const m = require('./$OUT'); if (typeof m.sgemm !== 'function') process.exit(1)"
echo "build-native: $OUT ($(du -h "$OUT" | cut -f1))"
