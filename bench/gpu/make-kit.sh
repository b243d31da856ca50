#!/bin/bash
# Builds .gpu-kit/ in the project root: what a run on the accelerator machine needs to execute
# the project under Node with real WebGPU (Dawn over the NVIDIA Vulkan driver).
#   - node.xz               this machine's Node.js binary (the accelerator machine has none)
#   - node_modules/         the project's production dependencies, with `webgpu` cut to linux-x64
#   - debs/                 the Vulkan loader and GL dispatch libraries that the NVIDIA ICD needs
# Usage (project root, after `npm ci` and your build):  bash bench/gpu/make-kit.sh
# Then carry [".gpu-kit", "dist"] (and whatever else you built) to the NVIDIA machine and start
# the command with:  . bench/gpu/enter.sh
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
kit=.gpu-kit
grep -qx '/.gpu-kit/' .git/info/exclude 2>/dev/null || echo '/.gpu-kit/' >> .git/info/exclude
rm -rf "$kit/node_modules"; mkdir -p "$kit/node_modules" "$kit/debs"
[ -f "$kit/node.xz" ] || xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > "$kit/node.xz"
# production dependency closure, as npm resolved it
{ npm ls --omit=dev --all --parseable 2>/dev/null || true; } | tail -n +2 | while read -r dir; do
  rel=${dir#"$root"/node_modules/}
  [ "$rel" = "$dir" ] && continue
  mkdir -p "$kit/node_modules/$(dirname "$rel")"
  cp -r "$dir" "$kit/node_modules/$rel"
done
# webgpu (Dawn) is needed even where it is only a dev or optional dependency
if [ -d node_modules/webgpu ]; then
  rm -rf "$kit/node_modules/webgpu"; mkdir -p "$kit/node_modules/webgpu/dist"
  (cd node_modules/webgpu && cp index.js package.json "$root/$kit/node_modules/webgpu/" && cp -r build "$root/$kit/node_modules/webgpu/" 2>/dev/null || true)
  cp types.d.ts "$kit/node_modules/webgpu/" 2>/dev/null || true
  xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$kit/node_modules/webgpu/dist/dawn.node.xz"
else
  echo "make-kit: node_modules/webgpu is missing: add the 'webgpu' package (Dawn for Node) to the project" >&2; exit 1
fi
if ! ls "$kit"/debs/libvulkan1_*.deb >/dev/null 2>&1; then
  (cd "$kit/debs" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1) || {
    apt-get update -qq >/dev/null 2>&1; (cd "$kit/debs" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null); }
fi
du -sh "$kit" | awk '{print "make-kit: .gpu-kit is " $1 " (at most 64 MiB travel in all)"}'
