#!/usr/bin/env python3
"""Check, with real PyTorch, that a student simreg exported loads into torchvision's ResNet with strict=True and
computes the same features simreg does. Run where PyTorch is installed (Debian: python3-torch python3-torchvision);
CI does not need it.

    /usr/bin/python3 scripts/check-torch-export.py STUDENT.safetensors --arch resnet18 --width 0.125 [--small-stem]
        [--features FEATURES.safetensors]   (simreg's features of test/fixtures/torch/input.safetensors, tensor "features")

Exit 0 when the load is strict and the features agree to 1e-5 relative; prints what it checked.
"""
import argparse
import json
import os
import struct
import sys

import torch
import torch.nn as nn




def load_fixture_module():
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'make-torch-fixtures.py')
    spec = importlib.util.spec_from_file_location('fixtures', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'I64': torch.int64, 'I32': torch.int32}


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop('__metadata__', {})
    out = {}
    for name, e in header.items():
        b, t = e['data_offsets']
        out[name] = torch.frombuffer(bytearray(data[b:t]), dtype=DTYPES[e['dtype']]).reshape(e['shape']).clone()
    return out, meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('student')
    ap.add_argument('--arch', default='resnet18', choices=['resnet18', 'resnet34', 'resnet50'])
    ap.add_argument('--width', type=float, default=1.0)
    ap.add_argument('--small-stem', action='store_true')
    ap.add_argument('--features')
    a = ap.parse_args()
    fx = load_fixture_module()
    from torchvision.models.resnet import BasicBlock, Bottleneck
    block, layers = {'resnet18': (BasicBlock, [2, 2, 2, 2]), 'resnet34': (BasicBlock, [3, 4, 6, 3]), 'resnet50': (Bottleneck, [3, 4, 6, 3])}[a.arch]
    sd, meta = read_safetensors(a.student)
    in_ch = sd['conv1.weight'].shape[1]
    m = fx.SmallResNet(block, layers, a.width, 10)
    if a.small_stem or sd['conv1.weight'].shape[-1] == 3:
        m.conv1 = nn.Conv2d(in_ch, m.conv1.out_channels, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    elif in_ch != 3:
        m.conv1 = nn.Conv2d(in_ch, m.conv1.out_channels, 7, 2, 3, bias=False)
    m.fc = nn.Identity()
    missing, unexpected = m.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, strict=True)
    print(f'{a.student}: loaded {len(sd)} tensors into torchvision {a.arch} x{a.width} with strict=True (missing {list(missing)}, unexpected {list(unexpected)})')
    print(f'metadata: {meta.get("simreg.model")}')
    if a.features:
        ref, _ = read_safetensors(a.features)
        x, _ = read_safetensors(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch', 'input.safetensors'))
        m.eval()
        with torch.no_grad():
            got = m(x['x'][:, :in_ch])
        want = ref['features']
        err = (got - want).abs().max().item() / want.abs().max().item()
        print(f'features vs simreg: max relative difference {err:.2e}')
        if err > 1e-5:
            sys.exit(1)


if __name__ == '__main__':
    main()
