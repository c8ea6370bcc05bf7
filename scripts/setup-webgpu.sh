#!/usr/bin/env bash
# A WebGPU adapter for the fused-kernel tests on a machine without a GPU: Mesa's lavapipe (Vulkan on the CPU), which
# Dawn (the `webgpu` package) drives like any Vulkan driver. Bookworm's Mesa 22.3 lacks a Vulkan feature Dawn
# requires (shaderUniformArrayDynamicIndexing); bookworm-backports' Mesa 25 has it. Idempotent; on failure the tests
# that need WebGPU say why (npm test makes that a failure with STAR_REQUIRE_WEBGPU=1).
set -uo pipefail
if ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q bpo; then exit 0; fi
if ! command -v apt-get >/dev/null; then echo "setup-webgpu: no apt-get; the WebGPU kernel tests need a Vulkan driver" >&2; exit 0; fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
. /etc/os-release
echo "setup-webgpu: apt-get install -t ${VERSION_CODENAME}-backports mesa-vulkan-drivers libvulkan1 (once)" >&2
echo "deb http://deb.debian.org/debian ${VERSION_CODENAME}-backports main" | $SUDO tee /etc/apt/sources.list.d/star-studio-backports.list >/dev/null
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t "${VERSION_CODENAME}-backports" mesa-vulkan-drivers libvulkan1; } >&2; then
  echo "setup-webgpu: could not install Mesa's Vulkan drivers" >&2
fi
exit 0
