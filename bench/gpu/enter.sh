# Source this at the start of a command on the accelerator machine:  . bench/gpu/enter.sh
# It unpacks .gpu-kit/ (see make-kit.sh), installs the Vulkan loader, and points Dawn at the NVIDIA driver.
_root=$(pwd)
_kit=$_root/.gpu-kit
[ -d "$_kit" ] || { echo "enter.sh: no .gpu-kit here; run make-kit.sh and carry .gpu-kit" >&2; return 1; }
mkdir -p /tmp/gpu-bin
[ -x /tmp/gpu-bin/node ] || { xz -dc "$_kit/node.xz" > /tmp/gpu-bin/node && chmod +x /tmp/gpu-bin/node; }
export PATH=/tmp/gpu-bin:$PATH
_dn=$_kit/node_modules/webgpu/dist
[ -f "$_dn/linux-x64/dawn.node" ] || { mkdir -p "$_dn/linux-x64" && xz -dc "$_dn/dawn.node.xz" > "$_dn/linux-x64/dawn.node"; }
if ! ldconfig -p | grep -q 'libEGL.so.1 '; then for f in "$_kit"/debs/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
[ -e "$_root/node_modules" ] || ln -s "$_kit/node_modules" "$_root/node_modules"
_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $_icd ] && export VK_DRIVER_FILES=$_icd VK_ICD_FILENAMES=$_icd
node -e "import('webgpu').then(async m=>{const a=await m.create([]).requestAdapter({powerPreference:'high-performance'});console.log('enter.sh: WebGPU adapter:',a?a.info.vendor+' '+a.info.description:'NONE');process.exit(a?0:1)})" 2>&1 | grep -v '^Warning' | tail -1
