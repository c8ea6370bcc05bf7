#!/usr/bin/env bash
# `npm run bench -- --device gpu` on a bare NVIDIA machine (no Node, no npm registry): tfjs-webgpu (Dawn, through the
# `webgpu` package) against PyTorch CUDA, side by side in one run.
#
#   bash scripts/bench-gpu.sh prepare     here: fills .gpu/ (git-ignored): node.xz, dawn.node.xz, the webgpu package's
#                                         loader, the Vulkan/GL loader .debs and the esbuild bundle of bench/bench.ts
#   bash scripts/bench-gpu.sh run [args]  on the GPU machine, from the repository root with .gpu/ beside it:
#                                         unpacks the loaders and Node, then runs the bench (args go to it; --with-ops
#                                         by default: the fused kernels, tfjs's ops and PyTorch CUDA side by side)
#   bash scripts/bench-gpu.sh all         on the GPU machine: run, then star (one device call for both)
#   bash scripts/bench-gpu.sh star        on the GPU machine: a small STaR run with the backend picked automatically
#   bash scripts/bench-gpu.sh flags       on the GPU machine: the small model under a few tfjs-webgpu flag settings
#
# The device tool of this workplace runs it as:  run(command="bash scripts/bench-gpu.sh run", carry=[".gpu"]).
# What travels is the tracked tree (~26 MB, 24 MB of it the prebuilt native addon) plus .gpu/ (~30 MB): under 64 MB.
# ../shared/gpu/README.md has the recipe this follows.
set -euo pipefail
cd "$(dirname "$0")/.."
G=.gpu

prepare() {
  local M=$G/node_modules
  mkdir -p "$G/debs" "$M/webgpu" "$M/@tensorflow/tfjs-backend-webgpu"
  [ -s "$G/node.xz" ] || xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > "$G/node.xz"
  [ -s "$G/dawn.node.xz" ] || xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$G/dawn.node.xz"
  # the webgpu package's loader (ESM) without its 130 MB of other platforms' binaries; dawn.node is unpacked there
  cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$M/webgpu/"
  # backend.ts loads tfjs-backend-webgpu at run time (it registers itself only once navigator.gpu exists): one
  # bundled file; its copy of tfjs-core shares the engine and kernel registry (kept on globalThis) with the bench's
  npx esbuild node_modules/@tensorflow/tfjs-backend-webgpu/dist/index.js --bundle --platform=node --target=node20 \
    --format=cjs --log-level=warning --outfile="$M/@tensorflow/tfjs-backend-webgpu/index.js"
  echo '{"name":"@tensorflow/tfjs-backend-webgpu","main":"index.js"}' > "$M/@tensorflow/tfjs-backend-webgpu/package.json"
  if ! ls "$G"/debs/libvulkan1_*.deb >/dev/null 2>&1; then
    local o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    mkdir -p /tmp/amd64/partial
    apt-get $o update -qq
    (cd "$G/debs" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  fi
  # the star CLI too, for an end-to-end STaR run on the GPU (`star` below)
  npx esbuild src/cli/main.ts --bundle --platform=node --target=node20 --format=cjs --log-level=warning \
    --outfile="$G/cli.js" --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:webgpu --external:vscode
  npx esbuild bench/bench.ts --bundle --platform=node --target=node20 --format=cjs --log-level=warning \
    --outfile="$G/bench.js" --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:webgpu --external:vscode
  du -sh "$G"
  git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | awk '{printf "tracked tree: %.1f MB\n", $1/1048576}'
}

setup() {
  for f in "$G"/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f "$icd" ] && export VK_DRIVER_FILES=$icd
  [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] &&
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  xz -dc "$G/node.xz" > /tmp/node && chmod +x /tmp/node
  mkdir -p "$G/node_modules/webgpu/dist/linux-x64"
  xz -dc "$G/dawn.node.xz" > "$G/node_modules/webgpu/dist/linux-x64/dawn.node"
}

# A small STaR run end to end with the backend chosen automatically: it must pick webgpu and record it.
star() {
  local out=${OUT:-/tmp/bench-gpu-out} p=/tmp/star-gpu
  mkdir -p "$out"
  setup
  rm -rf "$p"
  /tmp/node "$G/cli.js" init "$p" --task arithmetic --train-count 200 --exemplar-count 64 --exemplar-max-digits 3 --max-digits 3 --eval-max-digits 3
  sed -i 's/"baseSteps": 300/"baseSteps": 150/; s/"base": 300/"base": 60/; s/"iterations": 6/"iterations": 2/' "$p/star.json"
  /tmp/node "$G/cli.js" run "$p" --json | tee "$out/star-gpu-events.jsonl" | grep -v '"progress"'
  /tmp/node "$G/cli.js" report "$p" --markdown | tee "$out/star-gpu-report.md"
}

run() {
  local out=${OUT:-/tmp/bench-gpu-out}
  mkdir -p "$out"
  setup  # the bundle resolves webgpu and tfjs-backend-webgpu from .gpu/node_modules
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.is_available())' || true
  set +e
  set -o pipefail
  /tmp/node "$G/bench.js" --device gpu --json "${@:---with-ops}" 2>&1 | tee "$out/bench-gpu.log"
  local rc=$?
  tail -n 1 "$out/bench-gpu.log" > "$out/bench-gpu.json"
  return $rc
}

# The small model's training under several tfjs-webgpu flag settings (STAR_TFJS_FLAGS), ours only: what a flag buys
# (the flags tune tfjs's own WebGPU ops: STAR_WEBGPU_FUSED=0 puts those back in place of the fused kernels).
flags() {
  local out=${OUT:-/tmp/bench-gpu-out}
  mkdir -p "$out"
  setup
  for f in '{}' '{"WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE":128}' '{"WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE":128,"WEBGPU_CPU_FORWARD":false}'; do
    echo "flags $f" | tee -a "$out/flags.txt"
    STAR_TFJS_FLAGS="$f" /tmp/node "$G/bench.js" --device gpu --sizes small --reps 1 2>&1 | grep -E 'small ours: train' | tee -a "$out/flags.txt"
  done
}

case "${1:-}" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  star) star ;;
  all) run --with-ops; star ;;
  flags) flags ;;
  *) echo "usage: $0 prepare | run [bench args] | star | all | flags" >&2; exit 2 ;;
esac
