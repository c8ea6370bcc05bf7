// Numerical agreement with the PyTorch twin (bench/torch_twin.py): the same weights (exported as safetensors) and the
// same batch give the same loss, 1e-4 relative, for rotary and learned positions, with completion weights and padding.
// Needs python3 with torch (Debian's python3-torch; scripts/setup-test-deps.sh installs it before `npm test`);
// skipped, saying so, where torch is not importable. STAR_TWIN_PYTHON picks another python.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/compute/backend';
import { encodeSafetensors, RawTensor } from '../../src/engine/model/checkpoint';
import { GPT, GPTConfig } from '../../src/engine/model/gpt';

const python = process.env.STAR_TWIN_PYTHON ?? (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

function twinScript(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const f = path.join(dir, 'bench', 'torch_twin.py');
    if (fs.existsSync(f)) return f;
    dir = path.dirname(dir);
  }
  throw new Error(`bench/torch_twin.py not found above ${__dirname}`);
}

function torchMissing(): string | null {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error) return `${python} not found (${r.error.message})`;
  if (r.status !== 0) return `${python} cannot import torch (install python3-torch: scripts/setup-test-deps.sh)`;
  return null;
}

function runTwin(arg: object): { loss: number; torch: string } {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync(python, [twinScript(), 'loss', JSON.stringify(arg)], { encoding: 'utf8', env });
  assert.equal(r.status, 0, `torch_twin.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

let skip: string | null = null;
before(async () => {
  await selectBackend('wasm');
  skip = torchMissing();
  if (skip) console.log(`# twin.test: SKIPPED, ${skip}`);
});

describe('PyTorch twin', () => {
  for (const pos of ['rope', 'learned'] as const) {
    test(`${pos}: the tfjs model and bench/torch_twin.py give the same loss on the same weights and batch`, (t) => {
      if (skip) { t.skip(skip); return; }
      const cfg: GPTConfig = { vocabSize: 29, nLayer: 2, nHead: 4, nEmbd: 32, blockSize: 24, dropout: 0, pos };
      const model = new GPT(cfg, undefined, 3);
      // every parameter random, LayerNorm gains and biases too, so each one matters
      let seed = 11;
      for (const [name, v] of model.params) {
        const std = name.includes('ln_') && name.endsWith('.weight') ? 0.2 : name.endsWith('.bias') ? 0.05 : 0.08;
        tf.tidy(() => v.assign(name.includes('ln_') && name.endsWith('.weight')
          ? tf.add(tf.randomNormal(v.shape, 0, std, 'float32', seed++), 1) : tf.randomNormal(v.shape, 0, std, 'float32', seed++)));
      }
      const B = 5, T = 20; // shorter than the context, as length-grouped batches are
      const idx = new Int32Array(B * T), tgt = new Int32Array(B * T), w = new Float32Array(B * T);
      let x = 12345;
      const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
      for (let b = 0; b < B; b++) {
        const len = T - 3 * b, start = 2 + b; // right padding (PAD = 0, weight 0) and a prompt of `start` tokens
        for (let i = 0; i < len; i++) {
          idx[b * T + i] = 2 + Math.floor(rnd() * (cfg.vocabSize - 2));
          tgt[b * T + i] = 2 + Math.floor(rnd() * (cfg.vocabSize - 2));
          if (i + 1 >= start) w[b * T + i] = 1;
        }
      }
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'star-twin-'));
      try {
        const tensors = new Map<string, RawTensor>();
        for (const [name, v] of model.params) tensors.set(name, { dtype: 'F32', shape: v.shape, data: v.dataSync() as Float32Array });
        fs.writeFileSync(path.join(dir, 'w.safetensors'), encodeSafetensors(tensors));
        fs.writeFileSync(path.join(dir, 'b.safetensors'), encodeSafetensors(new Map<string, RawTensor>([
          ['idx', { dtype: 'I32', shape: [B, T], data: idx }],
          ['targets', { dtype: 'I32', shape: [B, T], data: tgt }],
          ['weights', { dtype: 'F32', shape: [B, T], data: w }],
        ])));
        const ours = tf.tidy(() => model.loss(tf.tensor2d(idx, [B, T], 'int32'), tf.tensor2d(tgt, [B, T], 'int32'), tf.tensor2d(w, [B, T])).dataSync()[0]);
        const arg = { weights: path.join(dir, 'w.safetensors'), batch: path.join(dir, 'b.safetensors'), config: cfg };
        const theirs = runTwin(arg).loss;
        const exact = runTwin({ ...arg, double: true }).loss; // float64: how far each float32 result is from exact
        const rel = Math.abs(ours - theirs) / Math.abs(theirs);
        t.diagnostic(`loss tfjs ${ours}, torch ${theirs}, torch float64 ${exact}: relative difference ${rel.toExponential(2)}`);
        assert.ok(Number.isFinite(ours) && ours > 1, `loss ${ours}`);
        assert.ok(rel < 1e-4, `tfjs ${ours} vs torch ${theirs}: relative difference ${rel}`);
        assert.ok(Math.abs(ours - exact) / exact < 1e-4, `tfjs ${ours} vs float64 ${exact}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
        model.dispose();
      }
    });
  }
});
