#!/usr/bin/env python3
"""Correctness check of rwkv.cpp (+ our converter) against the RWKV-7 oracle in /work/shared/oracle.

Usage:
    python3 check_oracle.py --lib /tmp/rwkvcpp/rwkv.cpp/build/librwkv.so \
        [--oracle /work/shared/oracle] [--model /tmp/rwkvcpp/models/rwkv7_a-FP32.bin] [--threads 1]

If --model does not exist it is converted from <oracle>/rwkv7_a.safetensors with convert_safetensors_to_rwkvcpp.py
(FP32, or FP16 when the file name ends in -FP16.bin). numpy + ctypes only.

Checks (tolerance from the oracle README: |got-want| <= 1e-4 + 1e-4*max|want| per tensor; greedy tokens exact):
  seq.logits          every token fed with rwkv_eval (serial graph), from the initial state
  seq (sequence)      the 24 tokens fed with rwkv_eval_sequence in one call: last-row logits and final state
  seq.argmax          argmax of every row vs the oracle's argmax_per_step
  states              state_after_1 and final_state vs rwkv.cpp's state (layout [ffn_xx][att_xx][att_heads] per layer)
  combo0/combo1       doc_a, doc_b from the initial state (rwkv_eval_sequence_in_chunks, chunk 16), elementwise mean
                      of rwkv.cpp's states with weights 0.25/0.75, then query + 5 greedy steps with rwkv_eval
"""

import argparse
import ctypes
import json
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def load_safetensors(path):
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        dt = {'F32': '<f4', 'F64': '<f8'}[v['dtype']]
        out[k] = np.frombuffer(data[a:b], dtype=dt).reshape(v['shape']).astype(np.float64)
    return out


class RwkvCpp:
    def __init__(self, lib_path, model_path, threads):
        lib = ctypes.CDLL(lib_path)
        P, F = ctypes.c_void_p, ctypes.POINTER(ctypes.c_float)
        U = ctypes.POINTER(ctypes.c_uint32)
        lib.rwkv_init_from_file.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32]
        lib.rwkv_init_from_file.restype = P
        lib.rwkv_eval.argtypes = [P, ctypes.c_uint32, F, F, F]
        lib.rwkv_eval.restype = ctypes.c_bool
        lib.rwkv_eval_sequence.argtypes = [P, U, ctypes.c_size_t, F, F, F]
        lib.rwkv_eval_sequence.restype = ctypes.c_bool
        lib.rwkv_eval_sequence_in_chunks.argtypes = [P, U, ctypes.c_size_t, ctypes.c_size_t, F, F, F]
        lib.rwkv_eval_sequence_in_chunks.restype = ctypes.c_bool
        for fn in ('rwkv_get_state_len', 'rwkv_get_logits_len', 'rwkv_get_n_embed', 'rwkv_get_n_layer'):
            getattr(lib, fn).argtypes = [P]
            getattr(lib, fn).restype = ctypes.c_size_t
        lib.rwkv_init_state.argtypes = [P, F]
        lib.rwkv_free.argtypes = [P]
        lib.rwkv_get_system_info_string.restype = ctypes.c_char_p
        self.lib = lib
        self.ctx = lib.rwkv_init_from_file(model_path.encode(), threads, 0)
        if not self.ctx:
            raise RuntimeError(f'rwkv_init_from_file failed for {model_path}')
        self.state_len = lib.rwkv_get_state_len(self.ctx)
        self.n_vocab = lib.rwkv_get_logits_len(self.ctx)
        self.n_embed = lib.rwkv_get_n_embed(self.ctx)
        self.n_layer = lib.rwkv_get_n_layer(self.ctx)

    @staticmethod
    def _f(a):
        return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))

    def init_state(self):
        s = np.zeros(self.state_len, dtype=np.float32)
        self.lib.rwkv_init_state(self.ctx, self._f(s))
        return s

    def eval(self, token, state):
        logits = np.zeros(self.n_vocab, dtype=np.float32)
        if not self.lib.rwkv_eval(self.ctx, token, self._f(state), self._f(state), self._f(logits)):
            raise RuntimeError('rwkv_eval failed')
        return logits

    def eval_sequence(self, tokens, state, chunk=None):
        t = np.asarray(tokens, dtype=np.uint32)
        logits = np.zeros(self.n_vocab, dtype=np.float32)
        tp = t.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32))
        if chunk is None:
            ok = self.lib.rwkv_eval_sequence(self.ctx, tp, len(t), self._f(state), self._f(state), self._f(logits))
        else:
            ok = self.lib.rwkv_eval_sequence_in_chunks(self.ctx, tp, len(t), chunk, self._f(state), self._f(state),
                                                       self._f(logits))
        if not ok:
            raise RuntimeError('rwkv_eval_sequence failed')
        return logits


def state_to_oracle(state, n_layer, C, H, N, kv_transpose):
    """rwkv.cpp state -> dict in the oracle's naming ([ffn_xx C][att_xx C][att_heads H*N*N] per layer)."""
    out, per = {}, 2 * C + H * N * N
    for i in range(n_layer):
        s = state[i * per:(i + 1) * per].astype(np.float64)
        out[f'{i}.ffn_x_prev'] = s[:C]
        out[f'{i}.att_x_prev'] = s[C:2 * C]
        kv = s[2 * C:].reshape(H, N, N)
        out[f'{i}.att_kv'] = kv.transpose(0, 2, 1) if kv_transpose else kv
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--lib', default='/tmp/rwkvcpp/rwkv.cpp/build/librwkv.so')
    p.add_argument('--oracle', default='/work/shared/oracle')
    p.add_argument('--model', default='/tmp/rwkvcpp/models/rwkv7_a-FP32.bin')
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args()

    if not os.path.exists(a.model):
        os.makedirs(os.path.dirname(a.model) or '.', exist_ok=True)
        dtype = 'FP16' if a.model.endswith('-FP16.bin') else 'FP32'
        subprocess.run([sys.executable, os.path.join(HERE, 'convert_safetensors_to_rwkvcpp.py'),
                        os.path.join(a.oracle, 'rwkv7_a.safetensors'), a.model, '--dtype', dtype],
                       check=True, stdout=subprocess.DEVNULL)

    meta = json.load(open(os.path.join(a.oracle, 'rwkv7_a.vectors.json')))
    want = load_safetensors(os.path.join(a.oracle, 'rwkv7_a.vectors.safetensors'))
    cfg = meta['config']
    C, H, N = int(cfg['n_embd']), int(cfg['n_head']), int(cfg['head_size'])

    m = RwkvCpp(a.lib, a.model, a.threads)
    print('rwkv.cpp system info:', m.lib.rwkv_get_system_info_string().decode())
    print(f'model {a.model}: n_vocab={m.n_vocab} n_embed={m.n_embed} n_layer={m.n_layer} state_len={m.state_len}')
    assert m.state_len == m.n_layer * (2 * C + H * N * N)

    failures = []

    def compare(label, got, exp):
        got = np.asarray(got, dtype=np.float64)
        err = float(np.max(np.abs(got - exp)))
        tol = 1e-4 + 1e-4 * float(np.max(np.abs(exp)))
        ok = err <= tol
        if not ok:
            failures.append(label)
        print(f'  {label:38s} max|err| = {err:.3e}  (tol {tol:.3e}, max|want| {np.max(np.abs(exp)):.3f})'
              f'  {"OK" if ok else "FAIL"}')
        return err

    def compare_tokens(label, got, exp):
        ok = list(got) == list(exp)
        if not ok:
            failures.append(label)
        print(f'  {label:38s} {"match" if ok else "MISMATCH"} ({sum(g == e for g, e in zip(got, exp))}/{len(exp)})'
              f'{"" if ok else f" got {list(got)} want {list(exp)}"}')

    # --- seq, serial ---
    tokens = meta['seq']['tokens']
    print(f'seq: {len(tokens)} tokens from the initial state')
    state = m.init_state()
    rows, after1 = [], None
    for i, t in enumerate(tokens):
        rows.append(m.eval(t, state))
        if i == 0:
            after1 = state.copy()
    rows = np.stack(rows)
    compare('seq.logits (rwkv_eval, all rows)', rows, want['seq.logits'])
    compare_tokens('seq greedy argmax per step', rows.argmax(axis=1).tolist(), meta['seq']['argmax_per_step'])

    # state layout: att_kv as stored by rwkv.cpp may be [h,i,j] or [h,j,i]; pick the one that matches and say so
    errs = {}
    for tr in (False, True):
        st = state_to_oracle(state, m.n_layer, C, H, N, tr)
        errs[tr] = max(np.max(np.abs(st[k] - want[f'seq.final_state.{k}'])) for k in st)
    tr = min(errs, key=errs.get)
    print(f'  (rwkv.cpp att_heads layout = oracle att_kv{" transposed per head" if tr else ""}; '
          f'other orientation err {errs[not tr]:.3e})')
    for label, s in (('state_after_1', after1), ('final_state', state)):
        st = state_to_oracle(s, m.n_layer, C, H, N, tr)
        key = 'state_after_1' if label == 'state_after_1' else 'final_state'
        got = np.concatenate([st[k].ravel() for k in sorted(st)])
        exp = np.concatenate([want[f'seq.{key}.{k}'].ravel() for k in sorted(st)])
        compare(f'seq.{key} (all state tensors)', got, exp)

    # --- seq, one rwkv_eval_sequence call ---
    state = m.init_state()
    last = m.eval_sequence(tokens, state)
    compare('seq.logits[-1] (rwkv_eval_sequence)', last, want['seq.logits'][-1])
    st = state_to_oracle(state, m.n_layer, C, H, N, tr)
    compare('seq.final_state (rwkv_eval_sequence)', np.concatenate([st[k].ravel() for k in sorted(st)]),
            np.concatenate([want[f'seq.final_state.{k}'].ravel() for k in sorted(st)]))

    # --- combos ---
    for c in meta['combos']:
        name = c['name']
        wa, wb = c['weights_a_b']
        print(f'{name}: doc_a {len(c["doc_a"])} + doc_b {len(c["doc_b"])} tokens, mean {wa}/{wb}, query {c["query"]}')
        sa = m.init_state()
        la = m.eval_sequence(c['doc_a'], sa, chunk=16)
        sb = m.init_state()
        lb = m.eval_sequence(c['doc_b'], sb, chunk=16)
        compare(f'{name}.logits_a_last', la, want[f'{name}.logits_a_last'])
        compare(f'{name}.logits_b_last', lb, want[f'{name}.logits_b_last'])
        s = (wa * sa.astype(np.float64) + wb * sb.astype(np.float64)).astype(np.float32)
        st = state_to_oracle(s, m.n_layer, C, H, N, tr)
        compare(f'{name}.mean_state', np.concatenate([st[k].ravel() for k in sorted(st)]),
                np.concatenate([want[f'{name}.mean_state.{k}'].ravel() for k in sorted(st)]))
        fed, rows = list(c['query']), []
        for step in range(len(c['fed_tokens'])):
            rows.append(m.eval(fed[-1], s))
            if step < len(c['generated']):
                fed.append(int(rows[-1].argmax()))
        compare(f'{name}.logits (query + greedy)', np.stack(rows), want[f'{name}.logits'])
        compare_tokens(f'{name}.generated', fed[1:], c['generated'])

    m.lib.rwkv_free(m.ctx)
    print('RESULT:', 'PASS' if not failures else 'FAIL: ' + ', '.join(failures))
    return 0 if not failures else 1


if __name__ == '__main__':
    sys.exit(main())
