#!/usr/bin/env bash
# Installs what the tests need from Debian when a machine lacks it: Chromium (its SwiftShader is the
# WebGPU adapter on machines without a GPU) and the Vulkan loader that Dawn (the `webgpu` package) opens.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' || missing+=(libvulkan1)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "weblm tests: installing ${missing[*]} from Debian" >&2
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
