// The native kernels (src/engine/compute/native.ts) against the stock tfjs-wasm kernels they replace.
// Bundled by scripts/build-tests.mjs (tfjs-core's gradient registrations are ES modules).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'module';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import {
  adamwStep, adamwStepReference, gelu, geluReference, installedNativeKernels, installNativeKernels, layerNorm,
  layerNormReference, nativeAddonCandidates, nativeInfo, setThreads, uninstallNativeKernels,
} from '../../src/engine/compute/native';

let seed = 7;
const rand = (shape: number[]) => tf.randomNormal(shape, 0, 1, 'float32', seed++);

/** max |a - b| / max |b|: the error relative to the scale of the reference. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length');
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  if (Number.isNaN(diff)) return Infinity;
  return diff / Math.max(scale, 1e-30);
}

/** Runs f with the stock kernels and with the native ones; returns [stock, native] values and shapes. */
function both(f: () => tf.Tensor | tf.Tensor[]): { stock: tf.Tensor[]; native: tf.Tensor[] } {
  const run = () => {
    const r = f();
    return Array.isArray(r) ? r : [r];
  };
  uninstallNativeKernels();
  const stock = run();
  const installed = installNativeKernels();
  assert.ok(installed.installed.length > 0, installed.error);
  const native = run();
  return { stock, native };
}

function assertSame(f: () => tf.Tensor | tf.Tensor[], tol = 1e-5, what = ''): void {
  const { stock, native } = both(f);
  assert.equal(stock.length, native.length);
  for (let i = 0; i < stock.length; i++) {
    assert.deepEqual(native[i].shape, stock[i].shape, `${what} shape`);
    assert.equal(native[i].dtype, stock[i].dtype, `${what} dtype`);
    const e = relErr(native[i].dataSync(), stock[i].dataSync());
    assert.ok(e <= tol, `${what}: relative error ${e} > ${tol}`);
  }
  tf.dispose([...stock, ...native]);
}

// The prebuilt addon is committed for linux-x64; elsewhere (or with STAR_NATIVE=0) only the fallback is tested.
const skip =
  process.env.STAR_NATIVE === '0' ? 'STAR_NATIVE=0' : nativeAddonCandidates().length === 0 ? `no addon for ${process.platform}-${process.arch}` : false;
const ntest = (name: string, fn: () => void) => test(name, { skip }, fn);

describe('native kernels on tfjs-wasm', () => {
  before(async () => {
    // createRequire: resolved at run time from the node_modules above the test (esbuild leaves it alone)
    const wasmFile = createRequire(__filename).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm');
    setWasmPaths(path.dirname(wasmFile) + path.sep);
    assert.ok(await tf.setBackend('wasm'));
    if (skip) return;
    const r = installNativeKernels();
    assert.deepEqual(r.error, undefined, `the addon should load here: ${r.error}`);
    assert.ok(r.installed.includes('BatchMatMul') && r.installed.includes('Transpose'), r.installed.join());
  });
  after(() => uninstallNativeKernels());

  ntest('reports what it loaded', () => {
    const info = nativeInfo();
    assert.ok(info && info.threads >= 1 && info.blasCore.length > 0);
    assert.equal(setThreads(1), 1);
    assert.deepEqual(installNativeKernels().installed.sort(), installedNativeKernels().sort(), 'idempotent');
  });

  ntest('BatchMatMul: plain, transposed, batched, broadcast', () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[37, 19], [19, 23], false, false],
      [[37, 19], [23, 19], false, true],
      [[19, 37], [19, 23], true, false],
      [[19, 37], [23, 19], true, true],
      [[1, 64], [64, 1], false, false],
      [[3, 5, 7, 11], [3, 5, 11, 13], false, false],
      [[3, 5, 7, 11], [3, 5, 13, 11], false, true],
      [[3, 5, 11, 7], [3, 5, 11, 13], true, false],
      [[3, 5, 11, 7], [3, 5, 13, 11], true, true],
      [[4, 9, 16], [16, 8], false, false], // batched @ matrix (folded into one gemm)
      [[4, 16, 9], [16, 8], true, false], // batched^T @ matrix
      [[4, 9, 16], [8, 16], false, true],
      [[9, 16], [4, 16, 8], false, false], // matrix @ batched
      [[2, 1, 9, 16], [3, 16, 8], false, false], // broadcast batch dims
      [[2, 3, 9, 16], [1, 3, 16, 8], false, false],
      [[2, 1, 9, 16], [1, 3, 16, 8], false, false], // mixed broadcast: stock fallback
      [[256, 128], [128, 384], false, false],
      [[256, 384], [128, 384], false, true],
      [[256, 128], [256, 384], true, false],
      [[0, 5], [5, 3], false, false],
    ];
    // with 2 OpenBLAS threads too: the 256-row products are big enough to be split between them
    for (const threads of [1, 2]) {
      assert.equal(setThreads(threads), threads);
      for (const [sa, sb, ta, tb] of cases) {
        const a = rand(sa), b = rand(sb);
        assertSame(() => tf.matMul(a, b, ta, tb), 1e-5, `${threads} threads: matMul [${sa}]${ta ? 'T' : ''} x [${sb}]${tb ? 'T' : ''}`);
        tf.dispose([a, b]);
      }
    }
    setThreads(1);
    // K = 0: zeros (the stock kernel leaves the output uninitialized)
    const z = tf.matMul(tf.zeros([4, 0]), tf.zeros([0, 3]));
    assert.deepEqual([...z.dataSync()], new Array(12).fill(0));
    z.dispose();
  });

  ntest('Transpose: 2-D to 5-D, float32 and int32', () => {
    const cases: [number[], number[]][] = [
      [[7, 5], [1, 0]],
      [[300, 200], [1, 0]],
      [[2, 3, 4], [2, 0, 1]],
      [[2, 3, 4], [0, 2, 1]],
      [[2, 3, 4], [1, 0, 2]],
      [[2, 3, 4], [0, 1, 2]],
      [[4, 6, 3, 2, 5], [2, 0, 3, 1, 4]], // the qkv split
      [[4, 2, 6, 5], [0, 2, 1, 3]], // heads back
      [[1, 6, 1, 5], [3, 2, 1, 0]],
      [[3, 1, 4, 1, 2], [4, 3, 2, 1, 0]],
      [[2, 3, 4, 5, 6, 2], [5, 3, 1, 0, 4, 2]],
      [[0, 4], [1, 0]],
    ];
    for (const [shape, perm] of cases) {
      const x = rand(shape);
      assertSame(() => tf.transpose(x, perm), 0, `transpose [${shape}] by [${perm}]`);
      const xi = tf.cast(tf.mul(x, 100), 'int32');
      assertSame(() => tf.transpose(xi, perm), 0, `int32 transpose [${shape}] by [${perm}]`);
      tf.dispose([x, xi]);
    }
  });

  ntest('Add, Sub, Multiply, RealDiv with broadcasting', () => {
    const shapes: [number[], number[]][] = [
      [[37, 19], [37, 19]],
      [[64, 48], [48]], // bias
      [[64, 48], [64, 1]], // per-row (LayerNorm mean / rstd)
      [[64, 1], [64, 48]],
      [[48], [64, 48]],
      [[5, 7, 9], []], // scalar
      [[], [5, 7, 9]],
      [[3, 4, 8, 8], [1, 1, 8, 8]], // attention mask
      [[3, 4, 8, 8], [3, 4, 8, 1]], // softmax denominators
      [[3, 1, 5], [1, 4, 1]], // both broadcast
      [[2, 3, 4, 5, 6], [3, 1, 5, 1]],
      [[1], [1]],
      [[0, 3], [3]],
    ];
    const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
      ['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['div', tf.div],
    ];
    for (const [sa, sb] of shapes) {
      const a = rand(sa), b = tf.add(rand(sb), 3); // keep divisors away from 0
      for (const [name, op] of ops) assertSame(() => op(a, b), 0, `${name} [${sa}] [${sb}]`);
      tf.dispose([a, b]);
    }
    // int32 stays on the stock kernels
    const i = tf.tensor1d([1, 2, 3], 'int32');
    assertSame(() => [tf.add(i, i), tf.mul(i, 2), tf.sub(i, tf.scalar(1, 'int32'))], 0, 'int32 binary');
    i.dispose();
  });

  ntest('Sum over contiguous and scattered axes', () => {
    const cases: [number[], number | number[], boolean][] = [
      [[2048, 128], 0, false], // bias gradient
      [[300, 77], 1, false],
      [[300, 77], -1, true],
      [[4, 5, 6], [0, 1], false],
      [[4, 5, 6], [1, 2], true],
      [[4, 5, 6], 1, false],
      [[4, 5, 6], [0, 2], false], // not contiguous: stock
      [[4, 5, 6], [0, 1, 2], false],
      [[3, 0, 2], 1, false],
      [[7], 0, false],
    ];
    for (const [shape, axis, keepDims] of cases) {
      const x = rand(shape);
      assertSame(() => tf.sum(x, axis, keepDims), 1e-5, `sum [${shape}] axis ${axis} keepDims ${keepDims}`);
      x.dispose();
    }
  });

  ntest('Tanh matches to float precision, including extremes', () => {
    const x = tf.concat([tf.mul(rand([10000]), 4), tf.tensor1d([0, -0, 1e-8, -3e-4, 5e-4, 7.9, -8, 9, 20, -100, 1e30, Infinity, -Infinity])]);
    const { stock, native } = both(() => tf.tanh(x));
    const s = stock[0].dataSync(), n = native[0].dataSync();
    for (let i = 0; i < s.length; i++)
      assert.ok(Math.abs(n[i] - s[i]) <= 1e-6 * Math.abs(s[i]) + 1e-7, `tanh(${x.dataSync()[i]}): ${n[i]} vs ${s[i]}`);
    const nan = tf.tanh(tf.tensor1d([NaN]));
    assert.ok(Number.isNaN(nan.dataSync()[0]));
    tf.dispose([x, ...stock, ...native, nan]);
  });

  ntest('Identity and Cast share memory safely', () => {
    const x = rand([8, 8]);
    const expect = [...x.dataSync()];
    const y = tf.clone(x); // Identity
    const z = tf.cast(x, 'float32');
    x.dispose();
    assert.deepEqual([...y.dataSync()], expect);
    y.dispose();
    assert.deepEqual([...z.dataSync()], expect);
    const i = tf.cast(z, 'int32'); // a real cast stays stock
    assert.deepEqual([...i.dataSync()], expect.map((v) => Math.trunc(v) || 0));
    tf.dispose([z, i]);
  });

  ntest('Unpack (unstack) and Pack (stack) along every axis', () => {
    const x = rand([3, 4, 5, 2]);
    for (let axis = -1; axis < 4; axis++) assertSame(() => tf.unstack(x, axis), 0, `unstack axis ${axis}`);
    const xi = tf.cast(tf.mul(x, 10), 'int32');
    assertSame(() => tf.unstack(xi, 2), 0, 'int32 unstack');
    const parts = [rand([3, 4, 5]), rand([3, 4, 5]), rand([3, 4, 5])];
    for (let axis = -1; axis <= 3; axis++) assertSame(() => tf.stack(parts, axis), 0, `stack axis ${axis}`);
    assertSame(() => tf.stack([xi, xi], 1), 0, 'int32 stack');
    tf.dispose(parts);
    tf.dispose([x, xi]);
  });

  ntest('fused GELU: value and gradient match the composed ops', () => {
    const x = tf.concat([tf.mul(rand([5000]), 3), tf.tensor1d([0, 1e-6, -1e-6, 10, -10, 30, -30])]);
    const dy = rand([5007]);
    const f = (g: (t: tf.Tensor) => tf.Tensor) => {
      const { value, grads } = tf.valueAndGrads((t: tf.Tensor) => tf.sum(tf.mul(g(t), dy)))([x]);
      return [g(x), value, grads[0]];
    };
    const ref = f(geluReference);
    const fused = f(gelu);
    const names = ['gelu', 'loss', 'dgelu'];
    for (let i = 0; i < ref.length; i++) {
      const e = relErr(fused[i].dataSync(), ref[i].dataSync());
      assert.ok(e <= 1e-5, `${names[i]}: relative error ${e}`);
    }
    tf.dispose([x, dy, ...ref, ...fused]);
  });

  ntest('fused LayerNorm: value and gradients match the composed ops', () => {
    for (const shape of [[64, 48], [3, 5, 16], [7, 1], [2, 3]]) {
      const d = shape[shape.length - 1];
      const x = tf.add(tf.mul(rand(shape), 2), 0.5), g = tf.add(rand([d]), 1), b = rand([d]), dy = rand(shape);
      const f = (ln: typeof layerNorm) => {
        const { value, grads } = tf.valueAndGrads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(ln(xx, gg, bb, 1e-5), dy)))([x, g, b]);
        return [ln(x, g, b, 1e-3), value, ...grads];
      };
      const ref = f(layerNormReference);
      const fused = f(layerNorm);
      const names = ['y', 'loss', 'dx', 'dgamma', 'dbeta'];
      for (let i = 0; i < ref.length; i++) {
        assert.deepEqual(fused[i].shape, ref[i].shape);
        const e = relErr(fused[i].dataSync(), ref[i].dataSync());
        assert.ok(e <= 2e-5, `[${shape}] ${names[i]}: relative error ${e}`);
      }
      tf.dispose([x, g, b, dy, ...ref, ...fused]);
    }
  });

  ntest('fused AdamW step: the same float32 arithmetic as the composed ops', () => {
    const shape = [33, 17];
    const v = rand(shape), m = tf.mul(rand(shape), 0.1), s = tf.abs(tf.mul(rand(shape), 0.01)), g = rand(shape);
    for (const decay of [0, 1e-4]) {
      const h = { beta1: 0.9, beta2: 0.95, eps: 1e-8, stepSize: 3e-4 * Math.sqrt(1 - 0.95 ** 3) / (1 - 0.9 ** 3), decay };
      const scale = tf.scalar(0.7);
      const ref = adamwStepReference(v, m, s, g, scale, h);
      const fused = adamwStep(v, m, s, g, scale, h);
      for (let i = 0; i < 3; i++) {
        const e = relErr(fused[i].dataSync(), ref[i].dataSync());
        assert.ok(e <= 1e-6, `decay ${decay} output ${i}: relative error ${e}`);
      }
      tf.dispose([scale, ...ref, ...fused]);
    }
    tf.dispose([v, m, s, g]);
  });

  ntest('gradients of a small 2-layer transformer agree', () => {
    const B = 3, T = 8, D = 16, H = 2, hd = D / H, V = 11, L = 2;
    const params = new Map<string, tf.Variable>();
    const p = (name: string, shape: number[], init: 'n' | 'z' | 'o' = 'n') => {
      const v = init === 'z' ? tf.zeros(shape) : init === 'o' ? tf.ones(shape) : tf.mul(rand(shape), 0.2);
      params.set(name, tf.variable(v, true, name));
    };
    p('wte', [V, D]);
    p('wpe', [T, D]);
    for (let l = 0; l < L; l++) {
      p(`g1${l}`, [D], 'o'); p(`b1${l}`, [D], 'z');
      p(`wqkv${l}`, [D, 3 * D]); p(`bqkv${l}`, [3 * D]);
      p(`wo${l}`, [D, D]); p(`bo${l}`, [D]);
      p(`g2${l}`, [D], 'o'); p(`b2${l}`, [D], 'z');
      p(`wf${l}`, [D, 4 * D]); p(`bf${l}`, [4 * D]);
      p(`wp${l}`, [4 * D, D]); p(`bp${l}`, [D]);
    }
    const P = (n: string) => params.get(n)!;
    const idx = tf.tensor1d(Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % V), 'int32');
    const tgt = tf.tensor1d(Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % V), 'int32');
    const mask = tf.mul(tf.sub(tf.linalg.bandPart(tf.ones([T, T]), -1, 0), 1), 1e9);
    const ln = (x: tf.Tensor, g: string, b: string) => layerNorm(x, P(g), P(b));
    const loss = () => {
      let x: tf.Tensor = tf.matMul(tf.oneHot(idx, V), P('wte'));
      x = tf.reshape(tf.add(tf.reshape(x, [B, T, D]), P('wpe')), [B * T, D]);
      for (let l = 0; l < L; l++) {
        const h = ln(x, `g1${l}`, `b1${l}`);
        const qkv = tf.add(tf.matMul(h, P(`wqkv${l}`)), P(`bqkv${l}`));
        const [q, k, v] = tf.unstack(tf.transpose(tf.reshape(qkv, [B, T, 3, H, hd]), [2, 0, 3, 1, 4]));
        const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)), mask));
        const y = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * T, D]);
        x = tf.add(x, tf.add(tf.matMul(y, P(`wo${l}`)), P(`bo${l}`)));
        const f = gelu(tf.add(tf.matMul(ln(x, `g2${l}`, `b2${l}`), P(`wf${l}`)), P(`bf${l}`)));
        x = tf.add(x, tf.add(tf.matMul(f, P(`wp${l}`)), P(`bp${l}`)));
      }
      const logits = tf.matMul(x, P('wte'), false, true);
      const logp = tf.logSoftmax(logits);
      return tf.neg(tf.mean(tf.sum(tf.mul(logp, tf.oneHot(tgt, V)), -1))) as tf.Scalar;
    };
    const names = [...params.keys()];
    const { stock, native } = both(() => {
      const { value, grads } = tf.variableGrads(loss);
      return [value, ...names.map((n) => grads[n])];
    });
    for (let i = 0; i < stock.length; i++) {
      const what = i === 0 ? 'loss' : `d${names[i - 1]}`;
      const e = relErr(native[i].dataSync(), stock[i].dataSync());
      assert.ok(e <= 1e-4, `${what}: relative error ${e}`);
    }
    tf.dispose([...stock, ...native, idx, tgt, mask, ...params.values()]);
  });

  test('STAR_NATIVE=0 keeps the stock kernels, and results stay right', () => {
    uninstallNativeKernels();
    const saved = process.env.STAR_NATIVE;
    process.env.STAR_NATIVE = '0';
    try {
      const r = installNativeKernels();
      assert.deepEqual(r.installed, []);
      assert.match(r.error ?? '', /STAR_NATIVE/);
      assert.deepEqual(installedNativeKernels(), []);
      const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
      const b = tf.tensor2d([1, 0, 2, 1, 0, 3], [3, 2]);
      assert.deepEqual([...tf.matMul(a, b).dataSync()], [5, 11, 14, 23]);
      assert.deepEqual([...tf.matMul(a, a, true, false).dataSync()], [17, 22, 27, 22, 29, 36, 27, 36, 45]);
      assert.deepEqual([...tf.transpose(a).dataSync()], [1, 4, 2, 5, 3, 6]);
      // the fused ops fall back to their composed references
      const g = tf.ones([3]), z = tf.zeros([3]);
      assert.deepEqual([...gelu(a).dataSync()], [...geluReference(a).dataSync()]);
      assert.deepEqual([...layerNorm(a, g, z).dataSync()], [...layerNormReference(a, g, z).dataSync()]);
      const h = { beta1: 0.9, beta2: 0.99, eps: 1e-8, stepSize: 0.1, decay: 0.01 };
      const [v1] = adamwStep(a, a, a, a, tf.scalar(1), h), [v2] = adamwStepReference(a, a, a, a, tf.scalar(1), h);
      assert.deepEqual([...v1.dataSync()], [...v2.dataSync()]);
    } finally {
      if (saved === undefined) delete process.env.STAR_NATIVE;
      else process.env.STAR_NATIVE = saved;
    }
    if (!skip) assert.ok(installNativeKernels().installed.length > 0);
  });
});
