"""Reads safetensors by hand (8-byte little-endian header length, JSON header, raw data) into torch tensors, so the
PyTorch twin (torch_twin.py) and the reference models of the tests (test/fixtures/*_reference.py) need nothing
beyond torch. F32 and I32; empty tensors allowed."""
import json
import struct

import torch


def read_safetensors(path):
    with open(path, 'rb') as f:
        buf = f.read()
    (n,) = struct.unpack('<Q', buf[:8])
    header = json.loads(buf[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        dt = {'F32': torch.float32, 'I32': torch.int32}[e['dtype']]
        a, b = e['data_offsets']
        t = torch.frombuffer(bytearray(buf[base + a:base + b]), dtype=dt) if b > a else torch.zeros(0, dtype=dt)
        out[name] = t.reshape(e['shape']).clone()
    return out
