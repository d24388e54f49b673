#!/usr/bin/env python3
"""Convert an RWKV-7 (x070) safetensors checkpoint to rwkv.cpp's model file format, using numpy only (no torch).

Usage:
    python3 convert_safetensors_to_rwkvcpp.py IN.safetensors OUT.bin --dtype FP32|FP16

Written for the Engram vs rwkv.cpp benchmark. It reproduces, for RWKV-7 checkpoints with the official `.pth`
tensor names, the transformations that rwkv.cpp's own converter (python/convert_pytorch_to_ggml.py, rwkv.cpp
commit 4358e709) applies:

* the six token-shift mixes blocks.N.att.x_r, x_w, x_k, x_v, x_a, x_g (each [1,1,C]) are concatenated along dim 0,
  in that order, into one tensor blocks.N.att.x_rwkvag of shape [6,1,C];
* the LoRA matrices att.w1, w2, a1, a2, v1, v2, g1, g2 are transposed (rwkv.cpp evaluates them with ggml_mul_mat,
  i.e. as nn.Linear-style [out,in] matrices);
* nothing else is reshaped: [1,1,C] parameters stay 3-D, r_k stays [H,N], no exp/squeeze is applied to the decay
  (w0 is stored raw; rwkv.cpp computes exp(-0.606531*sigmoid(w0 + ...)) itself);
* FP16 files store 2-D+ tensors as float16, except the names containing .time_, .k_k, .k_a, .r_k, .x_rwkvag,
  .x_k, .w0, .a0, .v0; 1-D tensors (all LayerNorm/GroupNorm weights and biases) always stay float32;
* file header: magic 0x67676d66 ('ggmf'), file version 101, n_vocab and n_embed from emb.weight's shape, n_layer =
  number of blocks.N.ln1.weight, data type 1 (FP16) or 0 (FP32). rwkv.cpp infers the architecture version (7.0)
  from the presence of blocks.0.att.r_k and the head count from r_k's shape.
* each tensor: int32 dim count, int32 name length, int32 type (0 = FP32, 1 = FP16), the dims in reverse (ggml)
  order, the UTF-8 name, then the raw little-endian data in row-major order.

Deviation from the official converter, on purpose: tensors that rwkv.cpp's loader never binds to a model parameter
(the official RWKV-7 checkpoints carry blocks.0.att.v0/v1/v2, which layer 0 does not use) are dropped, because
rwkv.cpp r4358e709 aborts on them ("tensor buffer not set") when they are present in the file. `--keep-unused`
writes them anyway, as the official converter would.

Reads safetensors dtypes F32, F16, BF16 (widened exactly: uint16 << 16 -> float32) and F64.
"""

import argparse
import json
import re
import struct
import sys

import numpy as np

RWKVCPP_MAGIC = 0x67676D66  # 'ggmf'
RWKVCPP_FILE_VERSION = 101
TYPE_FP32 = 0
TYPE_FP16 = 1

MIX_ORDER = ['x_r', 'x_w', 'x_k', 'x_v', 'x_a', 'x_g']
LORA = {'w1', 'w2', 'a1', 'a2', 'v1', 'v2', 'g1', 'g2'}
# Substrings that keep a >=2-D tensor in FP32 in an FP16 file (same list as rwkv.cpp's converter).
KEEP_FP32 = ['.time_', '.k_k', '.k_a', '.r_k', '.x_rwkvag', '.x_k', '.w0', '.a0', '.v0']


def read_safetensors(path):
    """Returns (ordered list of (name, float32 ndarray) sorted by data offset, metadata dict)."""
    with open(path, 'rb') as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f'{path}: too short for a safetensors file')
        (header_len,) = struct.unpack('<Q', raw)
        header = json.loads(f.read(header_len).decode('utf-8'))
        base = 8 + header_len
    metadata = header.pop('__metadata__', {}) or {}
    data = np.memmap(path, dtype=np.uint8, mode='r')
    out = []
    for name, info in sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0]):
        dtype, shape = info['dtype'], [int(s) for s in info['shape']]
        start, end = info['data_offsets']
        buf = data[base + start: base + end]
        count = int(np.prod(shape)) if shape else 1
        if dtype == 'F32':
            arr = np.frombuffer(buf, dtype='<f4', count=count).astype(np.float32)
        elif dtype == 'BF16':
            arr = (np.frombuffer(buf, dtype='<u2', count=count).astype(np.uint32) << 16).view(np.float32)
        elif dtype == 'F16':
            arr = np.frombuffer(buf, dtype='<f2', count=count).astype(np.float32)
        elif dtype == 'F64':
            arr = np.frombuffer(buf, dtype='<f8', count=count).astype(np.float32)
        else:
            raise ValueError(f'{name}: unsupported safetensors dtype {dtype}')
        if arr.size * {'F32': 4, 'BF16': 2, 'F16': 2, 'F64': 8}[dtype] != end - start:
            raise ValueError(f'{name}: data size does not match shape {shape} / dtype {dtype}')
        out.append((name, arr.reshape(shape)))
    return out, metadata


def used_by_rwkvcpp(name, n_layer):
    """Whether rwkv.cpp's loader (rwkv_set_params, arch 7) binds this (converted) name to a model parameter."""
    if name in ('emb.weight', 'blocks.0.ln0.weight', 'blocks.0.ln0.bias',
                'ln_out.weight', 'ln_out.bias', 'head.weight'):
        return True
    m = re.fullmatch(r'blocks\.(\d+)\.(.+)', name)
    if not m or int(m.group(1)) >= n_layer:
        return False
    layer, rest = int(m.group(1)), m.group(2)
    if rest in ('att.v0', 'att.v1', 'att.v2'):
        return layer != 0
    return rest in {
        'ln1.weight', 'ln1.bias', 'ln2.weight', 'ln2.bias',
        'att.x_rwkvag', 'att.w0', 'att.w1', 'att.w2', 'att.a0', 'att.a1', 'att.a2', 'att.g1', 'att.g2',
        'att.r_k', 'att.k_k', 'att.k_a',
        'att.key.weight', 'att.value.weight', 'att.receptance.weight', 'att.output.weight',
        'att.ln_x.weight', 'att.ln_x.bias',
        'ffn.x_k', 'ffn.key.weight', 'ffn.value.weight',
    }


def convert(tensors, keep_unused=False):
    """Applies rwkv.cpp's RWKV-7 transformations. Returns an ordered list of (name, float32 ndarray)."""
    names = {n for n, _ in tensors}
    if 'blocks.0.att.k_k' not in names or 'blocks.0.att.r_k' not in names:
        raise ValueError('not an RWKV-7 (x070) checkpoint: blocks.0.att.k_k / r_k missing')
    n_layer = 0
    while f'blocks.{n_layer}.ln1.weight' in names:
        n_layer += 1
    if n_layer == 0:
        raise ValueError('no blocks.N.ln1.weight found')

    by_name = dict(tensors)
    out = []
    done_mix = set()
    for name, t in tensors:
        m = re.fullmatch(r'blocks\.(\d+)\.att\.(x_[a-z])', name)
        if m:
            layer = int(m.group(1))
            if layer in done_mix:
                continue
            parts = []
            for mix in MIX_ORDER:
                key = f'blocks.{layer}.att.{mix}'
                if key not in by_name:
                    raise ValueError(f'{key} missing')
                parts.append(by_name[key])
            extra = [n for n in names if n.startswith(f'blocks.{layer}.att.x_')
                     and n.split('.')[-1] not in MIX_ORDER]
            if extra:
                raise ValueError(f'unexpected token-shift tensors: {extra}')
            out.append((f'blocks.{layer}.att.x_rwkvag', np.concatenate(parts, axis=0)))
            done_mix.add(layer)
            continue
        m = re.fullmatch(r'blocks\.(\d+)\.att\.([a-z]\d)', name)
        if m and m.group(2) in LORA:
            if t.ndim != 2:
                raise ValueError(f'{name}: expected a 2-D LoRA matrix, got shape {t.shape}')
            t = np.ascontiguousarray(t.T)
        out.append((name, t))

    dropped = [n for n, _ in out if not used_by_rwkvcpp(n, n_layer)]
    if dropped and not keep_unused:
        print(f'Dropping tensors rwkv.cpp does not use: {", ".join(dropped)}')
        out = [(n, t) for n, t in out if n not in dropped]
    return out, n_layer


def write_rwkvcpp(path, tensors, n_layer, fp16):
    emb = dict(tensors)['emb.weight']
    n_vocab, n_embed = emb.shape
    with open(path, 'wb') as f:
        f.write(struct.pack('<6i', RWKVCPP_MAGIC, RWKVCPP_FILE_VERSION, n_vocab, n_embed, n_layer,
                            TYPE_FP16 if fp16 else TYPE_FP32))
        for name, t in tensors:
            if not 1 <= t.ndim <= 3:
                raise ValueError(f'{name}: rwkv.cpp supports 1-3 dims, got shape {t.shape}')
            half = fp16 and t.ndim > 1 and not any(s in name for s in KEEP_FP32)
            data = t.astype('<f2' if half else '<f4')
            key = name.encode('utf-8')
            f.write(struct.pack('<3i', t.ndim, len(key), TYPE_FP16 if half else TYPE_FP32))
            f.write(struct.pack(f'<{t.ndim}i', *reversed(t.shape)))
            f.write(key)
            f.write(np.ascontiguousarray(data).tobytes())
            print(f'Writing {name}, shape {tuple(t.shape)}, type {"float16" if half else "float32"}')
    return n_vocab, n_embed


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src', help='RWKV-7 checkpoint, .safetensors')
    p.add_argument('dest', help='rwkv.cpp model file to write (overwritten)')
    p.add_argument('--dtype', choices=['FP32', 'FP16'], default='FP16')
    p.add_argument('--keep-unused', action='store_true',
                   help='also write tensors rwkv.cpp does not use (blocks.0.att.v0/v1/v2), as the official converter')
    a = p.parse_args()

    print(f'Reading {a.src}')
    tensors, meta = read_safetensors(a.src)
    converted, n_layer = convert(tensors, keep_unused=a.keep_unused)
    n_vocab, n_embed = write_rwkvcpp(a.dest, converted, n_layer, a.dtype == 'FP16')
    r_k = dict(converted)['blocks.0.att.r_k']
    print(f'Done: RWKV v7.0, n_vocab={n_vocab} n_embed={n_embed} n_layer={n_layer} '
          f'heads={r_k.shape[0]} head_size={r_k.shape[1]} dtype={a.dtype} -> {a.dest}')


if __name__ == '__main__':
    sys.exit(main())
