#!/usr/bin/env python3
"""Make the PyTorch checkpoint fixtures under test/fixtures/torch/ with real PyTorch (Debian: python3-torch,
python3-torchvision). CI does not need PyTorch: the files this writes are committed, and the tests read them.

    /usr/bin/python3 scripts/make-torch-fixtures.py

What it writes:
  - small torchvision-structured models (ResNet-18 and ResNet-50 at 1/16 width, MobileNet-v2 at width 0.25, 10
    classes), each saved by torch.save in the zip format (.pt) and the legacy format (.pth), as float32,
    float16 and bfloat16 copies, plus PyTorch's eval-mode output for a fixed input (<name>.out.safetensors);
  - a MoCo-v2-style training checkpoint (state_dict under 'state_dict' with module.encoder_q./encoder_k.
    prefixes, the MLP head as fc.0/fc.2, queue, optimizer state with momentum buffers, an argparse.Namespace)
    in both formats, and DINO- and SwAV-shaped ones (zip format);
  - views.pt / views.pth: tensors sharing one storage (offsets, strides, a transpose), every state-dict dtype,
    nested dicts, lists, tuples and an OrderedDict, with the expected values in views.expected.json;
  - hostile files that must be refused: pickles calling os.system and builtins.eval (each would create a
    marker file if it ran), a whole pickled nn.Module.
Deterministic: fixed seeds, and the zip archives' timestamps come from torch itself (stable for a given input).
"""
import argparse
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import ResNet, BasicBlock, Bottleneck

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch')


class SmallResNet(ResNet):
    """torchvision's ResNet with every stage width multiplied by `w` (names and structure unchanged)."""

    def __init__(self, block, layers, w, num_classes):
        nn.Module.__init__(self)
        widths = [max(1, round(c * w)) for c in (64, 128, 256, 512)]
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = widths[0]
        self.dilation = 1
        self.groups = 1
        self.base_width = 64
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3] * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        # Bottleneck's inner width is planes * base_width / 64 * groups = planes here.
        return ResNet._make_layer(self, block, planes, blocks, stride, dilate)


def randomize_bn(model, g):
    """Non-trivial running statistics and affine parameters, so eval-mode outputs test them."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.num_batches_tracked.fill_(7)


def write_safetensors(path, tensors):
    """A minimal safetensors writer (F32 only): 8-byte header length, JSON header, raw little-endian data."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def save_both(obj, stem, zip_ext='.pt', legacy_ext='.pth'):
    torch.save(obj, os.path.join(OUT, stem + zip_ext))
    torch.save(obj, os.path.join(OUT, stem + legacy_ext), _use_new_zipfile_serialization=False)


def cast(sd, dtype):
    return collections.OrderedDict((k, v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items())


def models():
    g = torch.Generator().manual_seed(1234)
    torch.manual_seed(1234)
    r18 = SmallResNet(BasicBlock, [2, 2, 2, 2], 1 / 16, 10)
    r50 = SmallResNet(Bottleneck, [3, 4, 6, 3], 1 / 16, 10)
    mb2 = torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=10)
    out = {}
    for name, m in (('resnet18_w16', r18), ('resnet50_w16', r50), ('mobilenet_v2_w025', mb2)):
        randomize_bn(m, g)
        m.eval()
        out[name] = m
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {'torch': torch.__version__, 'torchvision': torchvision.__version__, 'models': {}}
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(99))
    write_safetensors(os.path.join(OUT, 'input.safetensors'), {'x': x})
    for name, m in models().items():
        sd = m.state_dict()
        for tag, dtype in (('', None), ('_f16', torch.float16), ('_bf16', torch.bfloat16)):
            save_both(sd if dtype is None else cast(sd, dtype), name + tag)
        with torch.no_grad():
            outs = {'f32': m(x)}
            for tag, dtype in (('f16', torch.float16), ('bf16', torch.bfloat16)):
                # PyTorch's own output with the rounded weights (computed in float32), the oracle for those copies.
                m2 = models()[name]
                m2.load_state_dict(cast(cast(sd, dtype), torch.float32))
                m2.eval()
                outs[tag] = m2(x)
        write_safetensors(os.path.join(OUT, name + '.out.safetensors'), outs)
        manifest['models'][name] = {'params': sum(p.numel() for p in m.parameters()), 'keys': len(sd)}

    # MoCo-v2-style training checkpoint (main_moco.py's layout), teacher = encoder_q with its MLP head.
    torch.manual_seed(7)
    enc_q = SmallResNet(BasicBlock, [2, 2, 2, 2], 1 / 16, 16)
    dim = enc_q.fc.weight.shape[1]
    enc_q.fc = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 16))
    randomize_bn(enc_q, torch.Generator().manual_seed(8))
    enc_q.eval()
    enc_k = SmallResNet(BasicBlock, [2, 2, 2, 2], 1 / 16, 16)
    enc_k.fc = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 16))
    sd = collections.OrderedDict()
    for k, v in enc_q.state_dict().items():
        sd['module.encoder_q.' + k] = v
    for k, v in enc_k.state_dict().items():
        sd['module.encoder_k.' + k] = v
    sd['module.queue'] = nn.functional.normalize(torch.randn(16, 64), dim=0)
    sd['module.queue_ptr'] = torch.zeros(1, dtype=torch.long)
    opt = torch.optim.SGD(enc_q.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    enc_q.train()
    loss = enc_q(torch.randn(4, 3, 64, 64)).pow(2).mean()
    loss.backward()
    opt.step()
    enc_q.eval()
    # The step changed encoder_q: store the weights after it (as a real checkpoint would).
    for k, v in enc_q.state_dict().items():
        sd['module.encoder_q.' + k] = v
    args = argparse.Namespace(arch='resnet18', lr=0.03, moco_dim=16, moco_k=64, moco_t=0.2, mlp=True, aug_plus=True, cos=True, epochs=200)
    ckpt = {'epoch': 200, 'arch': 'resnet18', 'state_dict': sd, 'optimizer': opt.state_dict(), 'args': args}
    save_both(ckpt, 'moco_v2', zip_ext='.pth.tar.zip', legacy_ext='.pth.tar')
    with torch.no_grad():
        feat = nn.Sequential(*list(enc_q.children())[:-1])(x).flatten(1)
        write_safetensors(os.path.join(OUT, 'moco_v2.out.safetensors'), {'features': feat, 'embedding': enc_q(x)})

    # DINO-shaped (student/teacher with backbone./head.) and SwAV-shaped (module. + projection head, prototypes).
    torch.manual_seed(11)
    bb = SmallResNet(BasicBlock, [2, 2, 2, 2], 1 / 16, 10)
    randomize_bn(bb, torch.Generator().manual_seed(12))
    bb.eval()
    bsd = {k: v for k, v in bb.state_dict().items() if not k.startswith('fc.')}
    head = {'head.mlp.0.weight': torch.randn(8, 32), 'head.mlp.0.bias': torch.randn(8), 'head.last_layer.weight_g': torch.ones(64, 1)}
    dino = {
        'student': collections.OrderedDict([*(('module.backbone.' + k, v.clone()) for k, v in bsd.items()), *(('module.' + k, v) for k, v in head.items())]),
        'teacher': collections.OrderedDict([*(('backbone.' + k, v) for k, v in bsd.items()), *head.items()]),
        'optimizer': {'state': {}, 'param_groups': [{'lr': 0.1, 'params': [0, 1]}]}, 'epoch': 100,
        'args': argparse.Namespace(arch='resnet18', out_dim=64, momentum_teacher=0.996), 'dino_loss': {'center': torch.zeros(1, 64)},
    }
    torch.save(dino, os.path.join(OUT, 'dino.pth'))
    swav = {'epoch': 400, 'state_dict': collections.OrderedDict([*(('module.' + k, v) for k, v in bsd.items()),
            ('module.projection_head.0.weight', torch.randn(16, 32)), ('module.projection_head.0.bias', torch.randn(16)),
            ('module.prototypes.weight', torch.randn(30, 16))]), 'optimizer': {'state': {}, 'param_groups': []}}
    torch.save(swav, os.path.join(OUT, 'swav.pth'))
    with torch.no_grad():
        feat = nn.Sequential(*list(bb.children())[:-1])(x).flatten(1)
    write_safetensors(os.path.join(OUT, 'dino_swav.out.safetensors'), {'features': feat})

    # Views of one storage, every state-dict dtype, nested containers.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8 - 1
    views = collections.OrderedDict([
        ('base', base), ('rows', base[1:3]), ('cols', base[:, 1::2]), ('t', base.t()), ('elem', base[2, 3]),
        ('f64', torch.linspace(-2, 2, 5, dtype=torch.float64)), ('f16', torch.tensor([0.1, -65504.0, 6e-8], dtype=torch.float16)),
        ('bf16', torch.tensor([1.5, -3.0e38, 1e-30], dtype=torch.bfloat16)), ('i64', torch.tensor([-(2 ** 40), 0, 7])),
        ('i32', torch.tensor([-5, 2 ** 31 - 1], dtype=torch.int32)), ('i16', torch.tensor([-300, 300], dtype=torch.int16)),
        ('i8', torch.tensor([-100, 100], dtype=torch.int8)), ('u8', torch.tensor([0, 255], dtype=torch.uint8)),
        ('b', torch.tensor([True, False])), ('empty', torch.zeros(0, 3)), ('scalar', torch.tensor(2.5)),
    ])
    container = {'views': views, 'list': [base[0], 3, 'x', None, True], 'tuple': (1.5, base[3, :2]), 'nested': {'deep': {'n': torch.tensor([9.0])}},
                 'size': torch.Size([2, 3]), 'bytes': b'\x00\xffab', 'set': {1, 2}}
    save_both(container, 'views')
    expected = {}
    for k, v in views.items():
        expected[k] = {'dtype': str(v.dtype).replace('torch.', ''), 'shape': list(v.shape), 'values': v.to(torch.float64).flatten().tolist()}
    with open(os.path.join(OUT, 'views.expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)

    # Hostile files: each names a marker file that exists only if unpickling ran the call.
    class SystemCall:
        def __reduce__(self):
            return (os.system, ('touch /tmp/simreg-pwned-os-system',))

    class EvalCall:
        def __reduce__(self):
            return (eval, ("open('/tmp/simreg-pwned-eval', 'w').write('x')",))

    for name, obj in (('evil_os_system', {'state_dict': {'w': torch.zeros(2)}, 'x': SystemCall()}), ('evil_eval', {'w': EvalCall()})):
        torch.save(obj, os.path.join(OUT, name + '.pt'))
        torch.save(obj, os.path.join(OUT, name + '.pth'), _use_new_zipfile_serialization=False)
    torch.save(nn.Conv2d(1, 2, 3), os.path.join(OUT, 'whole_module.pt'))
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    print('wrote fixtures to', os.path.normpath(OUT))


if __name__ == '__main__':
    main()
