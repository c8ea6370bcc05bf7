#!/usr/bin/python3
# The PyTorch twin of the embedded GPT (src/engine/model/gpt.ts): the same architecture, parameter names and
# layouts (Hugging Face GPT-2: Conv1D weights [in, out], lm_head [V, D]), pre-LN blocks, tanh-GELU, rotary
# (GPT-NeoX half rotation) or learned positions, completion-weighted cross-entropy, and the training step of
# src/engine/model/train.ts (AdamW betas 0.9/0.98, eps 1e-8, decay on 2-D weights only, global-norm clipping,
# warmup + cosine learning rate). Used by `npm run bench` (bench/bench.ts) and test/unit/twin.test.ts.
#
#   torch_twin.py loss  '{"weights": "w.safetensors", "config": {...}, "batch": "b.safetensors"}'   -> {"loss": ...}
#   torch_twin.py bench '{"config": {...}, "train": {...}, "sample": {...}, "threads": [1, 2], "device": "cpu"}'
#   torch_twin.py peak  '{"threads": [1, 2], "device": "cpu", "n": 1024}'                              -> sgemm GFLOP/s
#
# Every command prints one JSON object on its last line. No package beyond torch is needed (safetensors is read
# by safetensors_io.py, beside this file, with struct + json).
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

from safetensors_io import read_safetensors  # beside this file

BETA1, BETA2, EPS, LN_EPS = 0.9, 0.98, 1e-8, 1e-5


def rope_tables(hd, T):
    half = hd // 2
    inv = torch.tensor([1.0 / math.pow(10000, (2 * i) / hd) for i in range(half)], dtype=torch.float64)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], 1).float()
    sin = torch.cat([ang.sin(), ang.sin()], 1).float()
    return cos, sin


class GPT(torch.nn.Module):
    def __init__(self, cfg, weights=None, seed=0):
        super().__init__()
        self.cfg = cfg
        V, D, L, T = cfg['vocabSize'], cfg['nEmbd'], cfg['nLayer'], cfg['blockSize']
        g = torch.Generator().manual_seed(seed)
        proj_std = 0.02 / math.sqrt(2 * L)
        shapes = {'transformer.wte.weight': ([V, D], 'n', 0.02)}
        if cfg['pos'] == 'learned':
            shapes['transformer.wpe.weight'] = ([T, D], 'n', 0.01)
        for i in range(L):
            p = f'transformer.h.{i}.'
            shapes.update({
                p + 'ln_1.weight': ([D], '1', 0), p + 'ln_1.bias': ([D], '0', 0),
                p + 'attn.c_attn.weight': ([D, 3 * D], 'n', 0.02), p + 'attn.c_attn.bias': ([3 * D], '0', 0),
                p + 'attn.c_proj.weight': ([D, D], 'n', proj_std), p + 'attn.c_proj.bias': ([D], '0', 0),
                p + 'ln_2.weight': ([D], '1', 0), p + 'ln_2.bias': ([D], '0', 0),
                p + 'mlp.c_fc.weight': ([D, 4 * D], 'n', 0.02), p + 'mlp.c_fc.bias': ([4 * D], '0', 0),
                p + 'mlp.c_proj.weight': ([4 * D, D], 'n', proj_std), p + 'mlp.c_proj.bias': ([D], '0', 0),
            })
        shapes['transformer.ln_f.weight'] = ([D], '1', 0)
        shapes['transformer.ln_f.bias'] = ([D], '0', 0)
        shapes['lm_head.weight'] = ([V, D], 'n', 0.02)
        self.names = list(shapes)
        self.ps = torch.nn.ParameterList()
        for name, (shape, init, std) in shapes.items():
            if weights is not None:
                t = weights[name].float()
                assert list(t.shape) == shape, f'{name}: {list(t.shape)} != {shape}'
            elif init == 'n':
                t = torch.randn(shape, generator=g) * std
            else:
                t = torch.ones(shape) if init == '1' else torch.zeros(shape)
            self.ps.append(torch.nn.Parameter(t))
        self.idx = {n: i for i, n in enumerate(self.names)}
        if cfg['pos'] == 'rope':
            cos, sin = rope_tables(D // cfg['nHead'], T)
            self.register_buffer('cos', cos)
            self.register_buffer('sin', sin)
        self.register_buffer('causal', torch.triu(torch.full((T, T), -1e9), 1))

    def p(self, name):
        return self.ps[self.idx[name]]

    def forward(self, idx, cache=None, past=0):
        """Logits [B, T, V]; with cache (a list of [k, v] per layer, or empty lists) the cache grows in place."""
        cfg = self.cfg
        B, T = idx.shape
        D, H = cfg['nEmbd'], cfg['nHead']
        hd = D // H
        x = F.embedding(idx, self.p('transformer.wte.weight'))
        if cfg['pos'] == 'learned':
            x = x + self.p('transformer.wpe.weight')[past:past + T]
        if cfg['pos'] == 'rope':
            cos, sin = self.cos[past:past + T], self.sin[past:past + T]

            def rope(t):
                t1, t2 = t[..., :hd // 2], t[..., hd // 2:]
                return t * cos + torch.cat([-t2, t1], -1) * sin
        else:
            def rope(t):
                return t
        Tk = past + T
        mask = self.causal[past:past + T, :Tk] if T > 1 else None
        for i in range(cfg['nLayer']):
            p = f'transformer.h.{i}.'
            h = F.layer_norm(x, (D,), self.p(p + 'ln_1.weight'), self.p(p + 'ln_1.bias'), LN_EPS)
            qkv = torch.addmm(self.p(p + 'attn.c_attn.bias'), h.reshape(B * T, D), self.p(p + 'attn.c_attn.weight'))
            q, k, v = qkv.view(B, T, 3, H, hd).permute(2, 0, 3, 1, 4)
            q, k = rope(q), rope(k)
            if cache is not None:
                if cache[i]:
                    k = torch.cat([cache[i][0], k], 2)
                    v = torch.cat([cache[i][1], v], 2)
                cache[i] = [k, v]
            att = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(hd))
            if mask is not None:
                att = att + mask
            att = torch.softmax(att, -1)
            y = (att @ v).transpose(1, 2).reshape(B * T, D)
            x = x + torch.addmm(self.p(p + 'attn.c_proj.bias'), y, self.p(p + 'attn.c_proj.weight')).view(B, T, D)
            h2 = F.layer_norm(x, (D,), self.p(p + 'ln_2.weight'), self.p(p + 'ln_2.bias'), LN_EPS)
            f = F.gelu(torch.addmm(self.p(p + 'mlp.c_fc.bias'), h2.reshape(B * T, D), self.p(p + 'mlp.c_fc.weight')), approximate='tanh')
            x = x + torch.addmm(self.p(p + 'mlp.c_proj.bias'), f, self.p(p + 'mlp.c_proj.weight')).view(B, T, D)
        x = F.layer_norm(x, (D,), self.p('transformer.ln_f.weight'), self.p('transformer.ln_f.bias'), LN_EPS)
        return x @ self.p('lm_head.weight').t()

    def loss(self, idx, targets, weights):
        logits = self.forward(idx)
        V = self.cfg['vocabSize']
        nll = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1).long(), reduction='none')
        w = weights.reshape(-1)
        return (nll * w).sum() / torch.clamp(w.sum(), min=1)


def learning_rate(step, steps, lr, warmup_fraction):
    warm = max(1, round(steps * warmup_fraction))
    w = min(1, (step + 1) / warm)
    return lr * w * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))


def make_optimizer(model, lr, weight_decay):
    decay = [p for p in model.ps if p.dim() == 2]
    other = [p for p in model.ps if p.dim() != 2]
    groups = [{'params': decay, 'weight_decay': weight_decay}, {'params': other, 'weight_decay': 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(BETA1, BETA2), eps=EPS)


def sync(dev):
    if dev == 'cuda':
        torch.cuda.synchronize()


def reset_peak(dev):
    """Peak RSS (and CUDA memory) from here on: Linux resets VmHWM when 5 is written to clear_refs."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        pass
    if dev == 'cuda':
        torch.cuda.reset_peak_memory_stats()


def peak_mb(dev):
    out = {}
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    out['rssMB'] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        out['rssMB'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if dev == 'cuda':
        out['gpuMB'] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def bench_train(cfg, tr, dev, seed=1):
    """Tokens/s of the training step (B x T tokens a step) over tr['steps'] steps after tr['warmup']."""
    torch.manual_seed(seed)
    model = GPT(cfg, seed=seed).to(dev)
    opt = make_optimizer(model, tr['lr'], tr['weightDecay'])
    B, T, V = tr['batchSize'], cfg['blockSize'], cfg['vocabSize']
    g = torch.Generator().manual_seed(seed)
    total = tr['warmup'] + tr['steps']
    batches = [torch.randint(2, V, (B, T + 1), generator=g) for _ in range(min(total, 4))]
    w = torch.ones(B, T, device=dev)
    times, loss = [], None
    cap = tr.get('maxSeconds') or float('inf')
    began = time.perf_counter()
    reset_peak(dev)
    for step in range(total):
        if step > tr['warmup'] and time.perf_counter() - began > cap:
            break  # a slow configuration (e.g. oversubscribed threads) is cut short: the steps so far count
        a = batches[step % len(batches)].to(dev)
        sync(dev)
        t0 = time.perf_counter()
        for grp in opt.param_groups:
            grp['lr'] = learning_rate(step, total, tr['lr'], tr['warmupFraction'])
        opt.zero_grad(set_to_none=True)
        l = model.loss(a[:, :T], a[:, 1:], w)
        l.backward()
        torch.nn.utils.clip_grad_norm_(model.ps, tr['gradClip'])
        opt.step()
        # as the tfjs trainer does, the loss comes to the host every step
        loss = l.item()
        sync(dev)
        times.append(time.perf_counter() - t0)
    timed = times[tr['warmup']:]
    best = min(timed)
    mean = sum(timed) / len(timed)
    return {'tokS': round(B * T / mean, 1), 'tokSBestStep': round(B * T / best, 1), 'msPerStep': round(1e3 * mean, 2),
            'loss': round(loss, 4), 'steps': len(timed), **peak_mb(dev)}


@torch.no_grad()
def bench_sample(cfg, sp, dev, seed=1):
    """Greedy batched sampling with a KV cache: sp['batch'] prompts of sp['prompt'] tokens, sp['newTokens'] each."""
    torch.manual_seed(seed)
    model = GPT(cfg, seed=seed).to(dev).eval()
    Bs, P, N, V = sp['batch'], sp['prompt'], sp['newTokens'], cfg['vocabSize']
    g = torch.Generator().manual_seed(seed)
    prompts = torch.randint(2, V, (Bs, P), generator=g).to(dev)

    cap = sp.get('maxSeconds') or float('inf')

    def run(N):
        began = time.perf_counter()
        cache = [[] for _ in range(cfg['nLayer'])]
        logits = model.forward(prompts, cache, 0)[:, -1]
        out = []
        for s in range(N):
            if s >= 4 and time.perf_counter() - began > cap:
                break  # cut short (a slow configuration): tokens/s over the tokens made
            nxt = logits.argmax(-1)
            # as the tfjs sampler does, each step's tokens come to the host (stop sequences are checked there)
            out.append(nxt.tolist())
            if s + 1 == N:
                break
            logits = model.forward(nxt[:, None], cache, P + s)[:, -1]
        return out
    for _ in range(sp.get('warmup', 1)):
        run(min(N, 4))
    reset_peak(dev)
    rates = []
    for _ in range(sp.get('reps', 1)):
        sync(dev)
        t0 = time.perf_counter()
        made = len(run(N))
        sync(dev)
        rates.append((Bs * made / (time.perf_counter() - t0), made))
    rate, made = max(rates)
    return {'tokS': round(rate, 1), 'seconds': round(Bs * made / rate, 4), 'newTokens': made, **peak_mb(dev)}


def cmd_bench(a):
    dev = a.get('device', 'cpu')
    if dev == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    res = {'torch': torch.__version__, 'device': dev, 'coretype': os.environ.get('OPENBLAS_CORETYPE'), 'runs': []}
    if dev == 'cuda':
        res['gpu'] = torch.cuda.get_device_name(0)
    for th in a.get('threads', [1]):
        torch.set_num_threads(th)
        r = {'threads': th, 'loadavg': list(os.getloadavg())}
        if a.get('train'):
            r['train'] = bench_train(a['config'], a['train'], dev)
        if a.get('sample'):
            r['sample'] = bench_sample(a['config'], a['sample'], dev)
        r['loadavgAfter'] = list(os.getloadavg())
        res['runs'].append(r)
    return res


def cmd_peak(a):
    dev = a.get('device', 'cpu')
    if dev == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = False
    n = a.get('n', 1024)
    out = {'torch': torch.__version__, 'coretype': os.environ.get('OPENBLAS_CORETYPE'), 'n': n, 'gflops': {}}
    x = torch.randn(n, n, device=dev)
    y = torch.randn(n, n, device=dev)
    for th in a.get('threads', [1]):
        torch.set_num_threads(th)
        for _ in range(2):
            x @ y
        best = float('inf')
        for _ in range(a.get('reps', 5)):
            sync(dev)
            t0 = time.perf_counter()
            for _ in range(a.get('inner', 1)):
                x @ y
            sync(dev)
            best = min(best, (time.perf_counter() - t0) / a.get('inner', 1))
        out['gflops'][str(th)] = round(2 * n ** 3 / best / 1e9, 1)
    return out


def cmd_loss(a):
    torch.set_num_threads(1)
    weights = read_safetensors(a['weights'])
    batch = read_safetensors(a['batch'])
    model = GPT(a['config'], weights=weights).double() if a.get('double') else GPT(a['config'], weights=weights)
    with torch.no_grad():
        if a.get('double'):
            w = batch['weights'].double()
        else:
            w = batch['weights'].float()
        loss = model.loss(batch['idx'].long(), batch['targets'].long(), w)
    return {'loss': loss.item(), 'torch': torch.__version__}


if __name__ == '__main__':
    cmd, arg = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else '{}')
    print(json.dumps({'bench': cmd_bench, 'peak': cmd_peak, 'loss': cmd_loss}[cmd](arg)), flush=True)
