#!/usr/bin/env bash
# The prepared GPU run: everything issue #11 asks of a lent GPU machine, in one call of under 8 minutes.
#
#   bench/gpu-check.sh pack        here, on the development machine: builds dist/ and packs what the GPU machine
#                                  lacks (Node, the runtime node_modules, dist/) into .gpu/pack.tar.xz, and the
#                                  Vulkan loader packages into .gl/ (both ignored by git; carry them).
#   bench/gpu-check.sh [OUTDIR]    there: unpacks them when needed, then runs on the GPU adapter
#                                    1. the gpu, kernels and ops tests (test/run.mjs on that adapter only),
#                                    2. node bench/kernels.mjs --sweep (the standard shapes, then the sweep),
#                                    3. node bench/resnet18.mjs at 32x32 batch 32, and --imagenet --size 224 --batch 64,
#                                    4. PyTorch's ResNet-18 at the same two settings when torch is importable,
#                                    5. data-parallel SimReg on 1 and 2 devices of that adapter (bench/parallel.mjs):
#                                       the path on a real GPU, and the exchange's cost there,
#                                  and writes every result as JSONL into OUTDIR (default $OUT, else
#                                  bench/results/gpu-<date>): gpu-check.jsonl (one row per step: exit code,
#                                  seconds, test counts), tests.txt, kernels.jsonl, resnet18.jsonl,
#                                  torch_resnet18.jsonl, parallel.jsonl, the sweep's tune.json and log.txt with
#                                  everything printed.
#
# Step limits add up to 450 s, so the whole call stays under 8 minutes with unpacking. The device tool call
# (from the repository root, with .gpu and .gl carried):
#   run(command: "bash bench/gpu-check.sh", carry: [".gpu", ".gl"], timeout_s: 540)
# SIMREG_ADAPTER picks the adapter (default: the first non-software one `simreg info` lists).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [[ "${1:-}" == pack ]]; then
  set -e
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >> .git/info/exclude
  grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo /.gl/ >> .git/info/exclude
  node build.mjs
  rm -rf .gpu && mkdir -p .gpu/stage/bin
  cp "$(command -v node)" .gpu/stage/bin/node
  # Runtime packages only: webgpu with its Linux x64 binary, and the pure-JS dependencies the bundles import.
  mkdir -p .gpu/stage/node_modules/webgpu/dist/linux-x64
  cp node_modules/webgpu/{package.json,index.js} .gpu/stage/node_modules/webgpu/
  cp node_modules/webgpu/dist/linux-x64/dawn.node .gpu/stage/node_modules/webgpu/dist/linux-x64/
  [[ -f node_modules/webgpu/dist/index.js ]] && cp node_modules/webgpu/dist/*.js .gpu/stage/node_modules/webgpu/dist/ 2>/dev/null || true
  # uvu (and what it imports) runs the test files.
  for m in wgsl_reflect yauzl pend buffer-crc32 uvu dequal diff kleur sade mri; do [[ -d node_modules/$m ]] && cp -r node_modules/$m .gpu/stage/node_modules/; done
  # sharp (with libvips for Linux x64): the CLI and library bundles import it at load time, even for IDX data.
  for m in sharp detect-libc semver @img/colour @img/sharp-linux-x64 @img/sharp-libvips-linux-x64; do
    mkdir -p ".gpu/stage/node_modules/$(dirname "$m")" && cp -r "node_modules/$m" ".gpu/stage/node_modules/$m"
  done
  # A small Fashion-MNIST (the first 2000 training and 500 test images) for the data-parallel step: the GPU
  # machine has no Debian data sets.
  node --input-type=module -e '
    import { readFileSync, writeFileSync, mkdirSync } from "node:fs"; import { gunzipSync } from "node:zlib";
    const src = "/usr/share/datasets/fashion-mnist", dst = ".gpu/stage/data/fashion-mnist-2k"; mkdirSync(dst, { recursive: true });
    for (const [name, n] of [["train", 2000], ["t10k", 500]]) {
      const im = gunzipSync(readFileSync(`${src}/${name}-images-idx3-ubyte.gz`)), lb = gunzipSync(readFileSync(`${src}/${name}-labels-idx1-ubyte.gz`));
      const hi = Buffer.from(im.subarray(0, 16)); hi.writeUInt32BE(n, 4); const hl = Buffer.from(lb.subarray(0, 8)); hl.writeUInt32BE(n, 4);
      writeFileSync(`${dst}/${name}-images-idx3-ubyte`, Buffer.concat([hi, im.subarray(16, 16 + n * 784)]));
      writeFileSync(`${dst}/${name}-labels-idx1-ubyte`, Buffer.concat([hl, lb.subarray(8, 8 + n)]));
    }'
  # dist without source maps (they do not run, and they are half its size).
  mkdir -p .gpu/stage/dist && tar -C dist --exclude='*.map' -cf - . | tar -C .gpu/stage/dist -xf -
  tar -C .gpu/stage -cf - . | xz -9 -T0 > .gpu/pack.tar.xz
  rm -rf .gpu/stage
  # The Vulkan loader (the GPU machine has NVIDIA's driver but may lack libvulkan1), as the device README says.
  if [[ ! -d .gl ]] || ! ls .gl/*.deb >/dev/null 2>&1; then
    mkdir -p .gl /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1)
  fi
  du -sh .gpu .gl
  echo "packed: carry .gpu and .gl; run: bash bench/gpu-check.sh"
  exit 0
fi

OUTDIR=${1:-${OUT:-$ROOT/bench/results/gpu-$(date +%Y%m%d-%H%M%S)}}
mkdir -p "$OUTDIR"
LOG=$OUTDIR/log.txt
exec > >(tee -a "$LOG") 2>&1
T0=$(date +%s)
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
export SIMREG_BENCH_OUT=$OUTDIR
export FORCE_COLOR=0

# The loaders and the NVIDIA driver manifest, where the machine lacks them.
if ls .gl/*.deb >/dev/null 2>&1 && ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
fi
nv=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[[ -f $nv && -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]] && export VK_DRIVER_FILES=$nv
# Node, node_modules and dist from the pack, unless this checkout has them.
if [[ -f .gpu/pack.tar.xz ]] && { ! command -v node >/dev/null || [[ ! -d node_modules/webgpu || ! -d dist ]]; }; then
  mkdir -p /tmp/simreg-pack && xz -dc .gpu/pack.tar.xz | tar -C /tmp/simreg-pack -xf -
  command -v node >/dev/null || export PATH=/tmp/simreg-pack/bin:$PATH
  [[ -d node_modules/webgpu ]] || { rm -rf node_modules; ln -s /tmp/simreg-pack/node_modules node_modules; }
  [[ -d dist ]] || cp -r /tmp/simreg-pack/dist dist
fi
command -v node >/dev/null || { echo "gpu-check: no node (run 'bash bench/gpu-check.sh pack' here and carry .gpu)"; exit 2; }

row() { # row STEP RC SECONDS [EXTRA-JSON]
  printf '{"bench":"gpu-check","step":"%s","rc":%s,"seconds":%s%s}\n' "$1" "$2" "$3" "${4:+,$4}" >> "$OUTDIR/gpu-check.jsonl"
}
step() { # step NAME LIMIT_S COMMAND...
  local name=$1 limit=$2; shift 2
  echo; echo "=== $name: $* (limit ${limit}s, $(( $(date +%s) - T0 ))s elapsed)"
  local t=$(date +%s)
  timeout "$limit" "$@"; local rc=$?
  row "$name" "$rc" "$(( $(date +%s) - t ))"
  return $rc
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
node dist/cli.js info
if [[ -z "${SIMREG_ADAPTER:-}" ]]; then
  SIMREG_ADAPTER=$(node --input-type=module -e '
    const { listAdapters } = await import("./dist/index.js").catch(() => ({}));
    const list = listAdapters ? await listAdapters() : [];
    const hw = list.find((a) => !/llvmpipe|lavapipe|swiftshader/i.test(a.name));
    process.stdout.write(hw ? hw.name : "");' 2>/dev/null)
fi
[[ -n "$SIMREG_ADAPTER" ]] || { echo "gpu-check: no hardware adapter found (simreg info above lists what Dawn sees)"; row adapter 2 0; exit 2; }
export SIMREG_ADAPTER
echo "adapter: $SIMREG_ADAPTER"
row adapter 0 0 "\"adapter\":\"$SIMREG_ADAPTER\""

# 1. Kernel and op tests on this adapter (the runner's last line is "N passed, N failed").
step tests 135 env SIMREG_TEST_ADAPTERS="$SIMREG_ADAPTER" node test/run.mjs gpu/ kernels/ ops/ | tee "$OUTDIR/tests.txt"
counts=$(tail -n 1 "$OUTDIR/tests.txt" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/"passed":\1,"failed":\2/p')
row tests-summary 0 0 "${counts:-\"passed\":null}"
# 2. Kernels: the standard shapes, then the variant and workgroup sweep (its tuning file lands in OUTDIR).
step kernels 110 env SIMREG_TUNING="$OUTDIR/tune.json" node bench/kernels.mjs --sweep
# 3. ResNet-18, both settings.
step resnet18-32 45 node bench/resnet18.mjs --steps 10
step resnet18-224 60 node bench/resnet18.mjs --imagenet --size 224 --batch 64 --steps 5
# 4. PyTorch beside it, where the machine has it.
if python3 -c 'import torch, torchvision' 2>/dev/null; then
  step torch-32 30 python3 bench/torch_resnet18.py --steps 10
  step torch-224 30 python3 bench/torch_resnet18.py --imagenet --size 224 --batch 64 --steps 5
fi
# 5. Two devices on this adapter (a one-GPU machine: the path, and the exchange's cost beside a GPU step).
data=fashion-mnist; [[ -d /usr/share/datasets/fashion-mnist ]] || data=/tmp/simreg-pack/data/fashion-mnist-2k
step parallel 40 node bench/parallel.mjs --rounds 1 --short 2 --long 5 --size 32 --width 1 --batch 64 --data "$data" --subset 1024
echo; echo "gpu-check: done in $(( $(date +%s) - T0 ))s; results in $OUTDIR"
