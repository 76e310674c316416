#!/usr/bin/env bash
# Round trip with real PyTorch (needs python3-torch and python3-torchvision; CI does not run this):
# distil the PyTorch-made MoCo-style teacher test/fixtures/torch/moco_v2.pth.tar with `simreg distill`, compute
# the exported student's features of the fixture input with simreg, then load the student into torchvision's
# ResNet with strict=True in PyTorch and compare the features (scripts/check-torch-export.py).
#   bash scripts/check-torch-roundtrip.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
work=$(mktemp -d /tmp/simreg-roundtrip-XXXXXX)
trap 'rm -rf "$work"' EXIT
# A small CIFAR-10-format data set (3 channels, like the teacher): 5 train batches of 8 images, 10 test images.
node -e '
const fs = require("fs"), path = require("path");
const dir = process.argv[1];
const rec = (i) => { const b = new Uint8Array(3073); b[0] = i % 10; for (let j = 1; j < 3073; j++) b[j] = (i * 31 + j * 7) & 255; return b; };
const batch = (n, o) => Buffer.concat(Array.from({ length: n }, (_, i) => Buffer.from(rec(o + i))));
fs.mkdirSync(path.join(dir, "cifar"));
for (let b = 1; b <= 5; b++) fs.writeFileSync(path.join(dir, "cifar", `data_batch_${b}.bin`), batch(8, b * 8));
fs.writeFileSync(path.join(dir, "cifar", "test_batch.bin"), batch(10, 0));
' "$work"
node dist/cli.js distill --teacher test/fixtures/torch/moco_v2.pth.tar --teacher-arch resnet18 --teacher-width 0.0625 \
  --data "$work/cifar" --size 32 --batch 8 --steps 4 --workers 0 --arch resnet18 --width 0.125 --out "$work/run"
node --input-type=module -e '
import * as s from "./dist/index.js";
const [student, out] = process.argv.slice(1);
await s.initGpu();
const spec = JSON.parse((await s.readSafetensorsHeader(student)).metadata["simreg.model"]);
const m = s.createModel(spec.arch, { smallStem: spec.smallStem, inChannels: spec.inChannels, widthMultiplier: spec.widthMultiplier, numClasses: 0 });
await s.loadWeights(m, student);
m.eval();
const { tensors } = await s.readSafetensors("test/fixtures/torch/input.safetensors");
const x = tensors.get("x");
const f = s.noGrad(() => m.features(s.Tensor.fromArray(x.data, x.shape)));
await s.writeSafetensors(out, [{ name: "features", shape: [...f.shape], data: await f.read() }]);
s.destroyGpu();
' "$work/run/student.safetensors" "$work/features.safetensors"
/usr/bin/python3 scripts/check-torch-export.py "$work/run/student.safetensors" --arch resnet18 --width 0.125 --features "$work/features.safetensors"
