import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/compute/backend';
import { decodeSafetensors, encodeSafetensors, loadModel, saveModel } from '../../src/engine/model/checkpoint';
import { GPT, GPTConfig } from '../../src/engine/model/gpt';
import { sample } from '../../src/engine/model/sample';
import { CharTokenizer } from '../../src/engine/model/tokenizer';
import { learningRate, train } from '../../src/engine/model/train';

const tok = CharTokenizer.fromTexts(['0123456789+=:>|c\nTarget ']);
const cfg = (pos: 'rope' | 'learned'): GPTConfig => ({ vocabSize: tok.vocabSize, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 48, dropout: 0, pos });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'star-model-'));
const trainOpts = { batchSize: 8, lr: 3e-3, warmupFraction: 0.1, weightDecay: 0.1, gradClip: 1, seed: 7 };
const data = ['3+4:4+3=7c0|>7\n', '12+9:2+9=11c1|1+0+1=2c0|>21\n', '5+5:5+5=10c1|>10\n', '7+1:7+1=8c0|>8\n'].map((t) => {
  const i = t.indexOf(':') + 1;
  return { prompt: t.slice(0, i), completion: t.slice(i) };
});

before(async () => {
  await selectBackend('wasm');
});

describe('safetensors', () => {
  test('round-trips tensors and metadata, and widens F16/BF16', () => {
    const t = new Map([
      ['b', { dtype: 'F32' as const, shape: [2, 2], data: new Float32Array([1, -2, 3.5, 0]) }],
      ['a', { dtype: 'I32' as const, shape: [3], data: new Int32Array([7, 8, 9]) }],
    ]);
    const buf = encodeSafetensors(t, { note: 'x' });
    const back = decodeSafetensors(buf);
    assert.deepEqual([...back.tensors.get('b')!.data], [1, -2, 3.5, 0]);
    assert.deepEqual([...back.tensors.get('a')!.data], [7, 8, 9]);
    assert.equal(back.metadata.note, 'x');
    // header length is 8-byte aligned, as readers such as the Python safetensors package expect
    assert.equal(Number(buf.readBigUInt64LE(0)) % 8, 0);

    const header = JSON.stringify({ h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, g: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] } });
    const raw = Buffer.alloc(8 + header.length + 6);
    raw.writeBigUInt64LE(BigInt(header.length));
    raw.write(header, 8);
    raw.writeUInt16LE(0x3c00, 8 + header.length); // 1.0 in f16
    raw.writeUInt16LE(0xc000, 8 + header.length + 2); // -2.0 in f16
    raw.writeUInt16LE(0x4049, 8 + header.length + 4); // ~3.14 in bf16
    const d = decodeSafetensors(raw);
    assert.deepEqual([...d.tensors.get('h')!.data], [1, -2]);
    assert.ok(Math.abs(d.tensors.get('g')!.data[0] - 3.140625) < 1e-6);
  });

  test('a truncated file is a clear error', () => {
    assert.throws(() => decodeSafetensors(Buffer.from([1, 2, 3]), 'x.safetensors'), /x\.safetensors: not a safetensors file/);
  });
});

describe('GPT', () => {
  for (const pos of ['rope', 'learned'] as const) {
    test(`${pos}: decoding with the KV cache and left padding gives the logits of a full forward pass`, () => {
      const model = new GPT(cfg(pos), undefined, 3);
      try {
        const a = tok.encode('12+34:4+');
        const b = tok.encode('7+8:');
        // reference: each sequence alone, no cache
        const full = (ids: number[]) => {
          const t = tf.tidy(() => tf.slice(model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits, [0, ids.length - 1, 0], [1, 1, -1]));
          const v = Array.from(t.dataSync());
          t.dispose();
          return v;
        };
        const next = 3;
        const refA = full([...a, next]);
        const refB = full([...b, next]);
        // batched: b left-padded to a's length, prompt pass then one cached step
        const L = a.length;
        const pad = L - b.length;
        const gotT = tf.tidy(() => {
          const ids = tf.tensor2d([...a, ...Array(pad).fill(0), ...b], [2, L], 'int32');
          const positions = tf.tensor2d([...a.map((_, i) => i), ...Array(pad).fill(0), ...b.map((_, i) => i)], [2, L], 'int32');
          const keyMask = tf.tensor2d([...a.map(() => 1), ...Array(pad).fill(0), ...b.map(() => 1)], [2, L]);
          const r1 = model.forward(ids, { cache: model.emptyCache(2), positions, keyMask });
          const r2 = model.forward(tf.tensor2d([next, next], [2, 1], 'int32'), {
            cache: r1.cache,
            positions: tf.tensor2d([a.length, b.length], [2, 1], 'int32'),
            keyMask: tf.concat([keyMask, tf.ones([2, 1])], 1) as tf.Tensor2D,
          });
          return r2.logits;
        });
        const got = gotT.dataSync();
        gotT.dispose();
        const V = tok.vocabSize;
        for (let j = 0; j < V; j++) {
          assert.ok(Math.abs(got[j] - refA[j]) < 1e-4, `row a, logit ${j}: ${got[j]} vs ${refA[j]}`);
          assert.ok(Math.abs(got[V + j] - refB[j]) < 1e-4, `row b, logit ${j}: ${got[V + j]} vs ${refB[j]}`);
        }
      } finally {
        model.dispose();
      }
    });
  }

  test('training lowers the loss on the completion and the model then writes it', async () => {
    const model = new GPT(cfg('rope'), undefined, 1);
    try {
      const before = (await train(model, tok, data, { ...trainOpts, steps: 1 })).loss!;
      const after = (await train(model, tok, data, { ...trainOpts, steps: 300 })).loss!;
      assert.ok(after < before / 4, `loss ${before} -> ${after}`);
      const out = await sample(model, tok, data.map((d) => d.prompt), { maxNewTokens: 30, temperature: 0, topK: 0, stop: ['\n'] });
      assert.deepEqual(out, data.map((d) => d.completion.replace('\n', '')));
    } finally {
      model.dispose();
    }
  });

  test('sampling: same seeds give the same samples, the stop sequence is cut, no tensors leak', async () => {
    const model = new GPT(cfg('rope'), undefined, 2);
    try {
      const n0 = tf.memory().numTensors;
      const opts = { maxNewTokens: 12, temperature: 1, topK: 5, stop: ['\n'], seeds: [1, 2, 3] };
      const a = await sample(model, tok, ['1+2:', '33+4:', '5+5:'], opts);
      const b = await sample(model, tok, ['5+5:', '1+2:', '33+4:'], { ...opts, seeds: [3, 1, 2], batchSize: 1 });
      assert.deepEqual([b[1], b[2], b[0]], a);
      for (const s of a) assert.ok(!s.includes('\n') && s.length <= 12);
      assert.equal(tf.memory().numTensors, n0);
    } finally {
      model.dispose();
    }
  });

  test('a checkpoint saved and loaded gives the same weights, config and vocabulary', async () => {
    const dir = tmp();
    const model = new GPT(cfg('learned'), undefined, 5);
    await saveModel(dir, model, tok);
    const { model: back, tokenizer } = loadModel(dir);
    try {
      assert.deepEqual(back.config, model.config);
      assert.deepEqual(tokenizer.chars, tok.chars);
      for (const [name, v] of model.params) assert.deepEqual(back.p(name).dataSync(), v.dataSync(), name);
    } finally {
      model.dispose();
      back.dispose();
    }
  });

  test('training stopped midway and resumed from its state ends with the same weights as one unbroken run', async () => {
    const unbroken = new GPT(cfg('rope'), undefined, 9);
    const resumed = new GPT(cfg('rope'), undefined, 9);
    const dir = tmp();
    try {
      await train(unbroken, tok, data, { ...trainOpts, steps: 12 });
      let calls = 0;
      await assert.rejects(() => train(resumed, tok, data, { ...trainOpts, steps: 12, stateDir: dir, shouldStop: () => ++calls > 5 }), /stopped/);
      assert.ok(fs.existsSync(path.join(dir, 'train-state.safetensors')));
      // a fresh copy of the base model, as after a restart of the process
      const fresh = new GPT(cfg('rope'), undefined, 9);
      await train(fresh, tok, data, { ...trainOpts, steps: 12, stateDir: dir });
      for (const [name, v] of unbroken.params) {
        const x = v.dataSync();
        const y = fresh.p(name).dataSync();
        for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) < 1e-6, `${name}[${i}]: ${x[i]} vs ${y[i]}`);
      }
      fresh.dispose();
    } finally {
      unbroken.dispose();
      resumed.dispose();
    }
  });

  test('learning rate warms up, then decays to a tenth', () => {
    assert.ok(learningRate(0, 100, 1, 0.1) < 0.2);
    assert.ok(learningRate(9, 100, 1, 0.1) > 0.95);
    assert.ok(Math.abs(learningRate(99, 100, 1, 0.1) - 0.1) < 0.01);
  });
});
