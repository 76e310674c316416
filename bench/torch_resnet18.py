#!/usr/bin/env python3
"""PyTorch's side of `node bench/resnet18.mjs`: the same model, batch and step, timed the same way.

    python3 bench/torch_resnet18.py [--batch 32] [--size 32] [--steps 5] [--imagenet] [--threads N] [--device cpu|cuda]

Small-image ResNet-18 by default (3x3 stride-1 stem, no max-pool, 10 classes, 32x32), or torchvision's ImageNet
ResNet-18 with --imagenet (224x224, 1000 classes). SGD with momentum 0.9 and weight decay 5e-4 on BN-free
parameters, as the simreg bench. Training: median over `steps` steps of forward, cross-entropy, backward and the
optimiser step (synchronised); inference: eval mode, no grad. One JSON line is printed and appended to
$SIMREG_BENCH_OUT/torch_resnet18.jsonl when that is set, else bench/results/torch_resnet18.jsonl.
Needs PyTorch and torchvision (Debian: python3-torch python3-torchvision); the project's tests never do.
"""
import argparse, json, math, os, statistics, sys, time

ap = argparse.ArgumentParser()
ap.add_argument('--batch', type=int, default=32)
ap.add_argument('--size', type=int, default=None)
ap.add_argument('--steps', type=int, default=5)
ap.add_argument('--imagenet', action='store_true')
ap.add_argument('--threads', type=int, default=None, help='CPU threads (default: all cores)')
ap.add_argument('--device', default=None, help='cpu or cuda (default: cuda when available)')
a = ap.parse_args()

import torch, torch.nn as nn, torchvision

dev = torch.device(a.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
if a.threads:
    torch.set_num_threads(a.threads)
size = a.size or (224 if a.imagenet else 32)
classes = 1000 if a.imagenet else 10
model = torchvision.models.resnet18(num_classes=classes)
if not a.imagenet:
    model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()
model = model.to(dev)
decay = [p for n, p in model.named_parameters() if p.ndim > 1]
rest = [p for n, p in model.named_parameters() if p.ndim <= 1]
opt = torch.optim.SGD([{'params': decay, 'weight_decay': 5e-4}, {'params': rest, 'weight_decay': 0}], lr=0.05, momentum=0.9)
idx = torch.arange(a.batch * 3 * size * size, dtype=torch.float64)
x = (torch.sin(idx * 0.37) * torch.cos(idx * 0.011)).float().reshape(a.batch, 3, size, size).to(dev)
y = (torch.arange(a.batch) * 7 % classes).to(dev)
sync = (lambda: torch.cuda.synchronize()) if dev.type == 'cuda' else (lambda: None)

def step():
    opt.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss

model.train()
losses = [float(step()) for _ in range(3)]  # warm-up (cuDNN autotuning, allocator)
train = []
for _ in range(a.steps):
    sync(); t0 = time.perf_counter(); step(); sync(); train.append((time.perf_counter() - t0) * 1000)
model.eval()
infer = []
with torch.no_grad():
    model(x); sync()
    for _ in range(a.steps):
        t0 = time.perf_counter(); model(x); sync(); infer.append((time.perf_counter() - t0) * 1000)
tr, inf = statistics.median(train), statistics.median(infer)
row = {
    'bench': 'torch_resnet18', 'torch': torch.__version__, 'device': str(dev),
    'device_name': torch.cuda.get_device_name(dev) if dev.type == 'cuda' else f'cpu, {torch.get_num_threads()} threads',
    'config': {'batch': a.batch, 'size': size, 'classes': classes, 'imagenet': a.imagenet, 'steps': a.steps},
    'train': {'imagesPerSec': a.batch * 1000 / tr, 'ms': {'median': tr, 'min': min(train), 'max': max(train)}},
    'infer': {'imagesPerSec': a.batch * 1000 / inf, 'ms': {'median': inf, 'min': min(infer), 'max': max(infer)}},
    'firstLosses': losses,
}
print(f"pytorch {row['torch']} on {row['device_name']}: training {row['train']['imagesPerSec']:.1f} img/s "
      f"({tr:.1f} ms/step), inference {row['infer']['imagesPerSec']:.1f} img/s ({inf:.1f} ms/batch)")
out = os.environ.get('SIMREG_BENCH_OUT') or os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, 'torch_resnet18.jsonl'), 'a') as f:
    f.write(json.dumps(row) + '\n')
print(json.dumps(row))
