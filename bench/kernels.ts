// Measures the native kernels against the stock tfjs-wasm ones.
//
//   npx esbuild bench/kernels.ts --bundle --platform=node --outfile=out/bench/kernels.js
//   node out/bench/kernels.js train [stock|native] [threads] [steps] [profile]   # GPT training tokens/s
//   node out/bench/kernels.js micro [threads]                                    # per-kernel timings
//   TRACE=BatchMatMul node out/bench/kernels.js train native                    # one kernel by shape
//
// `train` runs the probe's model (B=32, T=64, D=128, L=2, H=4, V=64, tanh-GELU, Adam) written with the project's
// GPT class (src/engine/model/gpt.ts) and the training step of src/engine/model/train.ts (AdamW, clipping).
// FUSED_ADAM=1 uses the fused AdamW kernel.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as path from 'path';
import {
  adamwStep, adamwStepReference, installNativeKernels, nativeInfo, setThreads, uninstallNativeKernels,
} from '../src/engine/compute/native';
import { GPT } from '../src/engine/model/gpt';

const [cmd = 'train', ...rest] = process.argv.slice(2);

async function train(mode: string, threads: number, steps: number, profile: boolean): Promise<void> {
  const B = 32, T = 64, V = 64;
  const model = new GPT({ vocabSize: V, nLayer: 2, nHead: 4, nEmbd: 128, blockSize: T, dropout: 0, pos: 'learned' });
  // The project's training step (src/engine/model/train.ts): variableGrads, global-norm clipping, AdamW.
  // FUSED_ADAM=1 runs the update as one native kernel per parameter (adamwStep).
  const vars = [...model.params.values()];
  const m = vars.map((v) => tf.variable(tf.zerosLike(v), false));
  const sq = vars.map((v) => tf.variable(tf.zerosLike(v), false));
  const adamw = process.env.FUSED_ADAM === '1' ? adamwStep : adamwStepReference;
  let t = 0;
  const minimize = (lossFn: () => tf.Scalar): tf.Scalar => tf.tidy(() => {
    t++;
    const { value, grads } = tf.variableGrads(lossFn, vars);
    const g = vars.map((v) => grads[v.name]);
    const norm = tf.sqrt(tf.addN(g.map((x) => tf.sum(tf.square(x)))));
    const scale = tf.minimum(1, tf.div(1.0, tf.add(norm, 1e-6)));
    const lr = 1e-3, stepSize = (lr * Math.sqrt(1 - Math.pow(0.95, t))) / (1 - Math.pow(0.9, t));
    vars.forEach((v, i) => {
      const [v1, m1, s1] = adamw(v, m[i], sq[i], g[i], scale, { beta1: 0.9, beta2: 0.95, eps: 1e-8, stepSize, decay: v.rank >= 2 ? lr * 0.1 : 0 });
      m[i].assign(m1);
      sq[i].assign(s1);
      v.assign(v1);
    });
    return value;
  });
  const batch = (): [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D] => {
    const a = new Int32Array(B * (T + 1));
    for (let b = 0; b < B; b++) {
      let t0 = Math.floor(Math.random() * V);
      for (let t = 0; t <= T; t++) {
        a[b * (T + 1) + t] = t0;
        t0 = Math.random() < 0.9 ? (t0 * 3 + 1) % V : Math.floor(Math.random() * V);
      }
    }
    return tf.tidy(() => {
      const all = tf.tensor2d(a, [B, T + 1], 'int32');
      return [tf.slice(all, [0, 0], [B, T]), tf.slice(all, [0, 1], [B, T]), tf.ones([B, T])] as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    });
  };
  const step = (): number => {
    const [idx, tgt, w] = batch();
    const l = minimize(() => model.loss(idx, tgt, w));
    const v = l.dataSync()[0];
    tf.dispose([l, idx, tgt, w]);
    return v;
  };
  for (let i = 0; i < 2; i++) step();
  const t0 = performance.now();
  let loss = 0;
  for (let i = 0; i < steps; i++) loss = step();
  const dt = (performance.now() - t0) / 1000;
  console.log(`${mode} blasThreads=${threads}: ${steps} steps ${dt.toFixed(2)}s, ${((steps * B * T) / dt).toFixed(0)} tokens/s, ` +
    `${((dt / steps) * 1000).toFixed(0)} ms/step, loss ${loss.toFixed(3)}, tensors ${tf.memory().numTensors}`);
  if (profile) {
    const prof = await tf.profile(() => { step(); });
    const agg = new Map<string, [number, number]>();
    let tot = 0;
    for (const k of prof.kernels) {
      const t = k.kernelTimeMs as number;
      const e = agg.get(k.name) ?? [0, 0];
      e[0] += t; e[1]++;
      agg.set(k.name, e);
      tot += t;
    }
    console.log(`profiled step: kernel time ${tot.toFixed(1)} ms over ${prof.kernels.length} kernel calls`);
    for (const [n, [t, c]] of [...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 25))
      console.log(`  ${n.padEnd(22)} ${t.toFixed(1).padStart(7)} ms ${((100 * t) / tot).toFixed(1).padStart(5)}%  x${c}`);
  }
}

/** TRACE=<kernel>: total time per input shapes/attrs of one kernel. */
function traceKernel(name: string): Map<string, [number, number]> {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`no wasm kernel ${name}`);
  tf.unregisterKernel(name, 'wasm');
  const stats = new Map<string, [number, number]>();
  tf.registerKernel({
    ...k,
    kernelFunc: (args) => {
      const t0 = performance.now();
      const r = k.kernelFunc(args);
      const dt = performance.now() - t0;
      const key = Object.values(args.inputs).map((t) => (t ? `${t.dtype}[${t.shape}]` : '-')).join(' ') + ' ' + JSON.stringify(args.attrs);
      const e = stats.get(key) ?? [0, 0];
      e[0] += dt;
      e[1]++;
      stats.set(key, e);
      return r;
    },
  });
  return stats;
}

function time(f: () => tf.Tensor | tf.Tensor[], reps = 20): number {
  tf.dispose(f());
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const r = f();
    (Array.isArray(r) ? r[0] : r).dataSync();
    tf.dispose(r);
  }
  return (performance.now() - t0) / reps;
}

function micro(): void {
  const r = (s: number[]) => tf.randomNormal(s, 0, 1, 'float32', 1);
  const x = r([2048, 128]), w = r([128, 512]), g = r([2048, 512]), q = r([32, 4, 64, 32]), att = r([32, 4, 64, 64]);
  const qkv = r([32, 64, 3, 4, 32]), y = r([32, 4, 64, 32]), bias = r([512]);
  const cases: [string, () => tf.Tensor | tf.Tensor[]][] = [
    ['matMul x@W [2048,128]x[128,512]', () => tf.matMul(x, w)],
    ['matMul g@W^T (dX)', () => tf.matMul(g, w, false, true)],
    ['matMul x^T@g (dW)', () => tf.matMul(x, g, true, false)],
    ['matMul q@k^T [32,4,64,32]', () => tf.matMul(q, q, false, true)],
    ['matMul att@v', () => tf.matMul(att, q)],
    ['transpose qkv [2,0,3,1,4]', () => tf.transpose(qkv, [2, 0, 3, 1, 4])],
    ['transpose y [0,2,1,3]', () => tf.transpose(y, [0, 2, 1, 3])],
    ['transpose 2D [2048,512]', () => tf.transpose(g)],
    ['sum axis 0 (bias grad)', () => tf.sum(g, 0)],
    ['sum axis -1', () => tf.sum(g, -1)],
    ['add bias broadcast', () => tf.add(g, bias)],
    ['mul same shape', () => tf.mul(g, g)],
    ['mul scalar', () => tf.mul(g, 0.5)],
    ['tanh', () => tf.tanh(g)],
    ['softmax [32,4,64,64]', () => tf.softmax(att)],
    ['logSoftmax [2048,512]', () => tf.logSoftmax(g)],
  ];
  const res = new Map<string, number[]>();
  for (const native of [false, true]) {
    if (native) console.log('native:', installNativeKernels().installed.join(','));
    else uninstallNativeKernels();
    for (const [name, f] of cases) {
      const e = res.get(name) ?? [];
      e.push(time(f));
      res.set(name, e);
    }
  }
  for (const [name, [s, n]] of res)
    console.log(`  ${name.padEnd(34)} stock ${s.toFixed(3).padStart(8)} ms  native ${n.toFixed(3).padStart(8)} ms  x${(s / n).toFixed(1)}`);
}

(async () => {
  setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + path.sep);
  await tf.setBackend('wasm');
  if (cmd === 'train') {
    const [mode = 'native', threads = '1', steps = '10', prof = ''] = rest;
    if (mode === 'native') {
      const r = installNativeKernels();
      if (r.error) throw new Error(r.error);
      setThreads(Number(threads));
      console.log('native kernels:', r.installed.join(','), nativeInfo());
    }
    const tr = process.env.TRACE ? traceKernel(process.env.TRACE) : null;
    await train(mode, Number(threads), Number(steps), prof === 'profile');
    if (tr) for (const [k, [t, c]] of [...tr].sort((a, b) => b[1][0] - a[1][0])) console.log(t.toFixed(1).padStart(8), c, k);
  } else {
    installNativeKernels();
    setThreads(Number(rest[0] ?? 1));
    micro();
  }
  process.exit(0);
})();
