// `npm run bench`: the embedded GPT (src/engine/model) against its PyTorch twin (bench/torch_twin.py), side by side.
//
//   npm run bench                      CPU: tfjs wasm + native kernels vs PyTorch (Debian python3-torch, OpenBLAS)
//   npm run bench -- --json            the same, and one JSON object on the last line
//   npm run bench -- --device gpu      WebGPU (Dawn): our fused WGSL kernels vs PyTorch CUDA (--with-ops: also tfjs's ops)
//   options: --reps N (default 2), --sizes small,large, --quick (fewer steps); STAR_BENCH_PYTHON=<python with torch>;
//   STAR_BENCH_ASYNC=1 runs the asynchronous (WebGPU) loop on the CPU backend too, to check it without a GPU
//
// Two sizes (~0.6M and ~4.8M parameters, sequence 128), the same architecture, batch, sequence length and optimizer
// on both sides (AdamW + global-norm clipping + warmup/cosine, greedy batched sampling with a KV cache). Every
// measurement runs in its own process (ours: this file with --worker; PyTorch: torch_twin.py), ours and PyTorch's
// alternating, each repeated --reps times; the best repetition counts and the spread says how noisy it was. The load
// average is recorded with each. PyTorch runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (Debian's OpenBLAS
// 0.3.21 then misdetects this CPU and uses its SSE3 kernels), and again with the core type the native addon picks;
// each at 1 and 2 threads, the better counting.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/engine/compute/backend';
import { nativeInfo, setThreads } from '../src/engine/compute/native';
import { GPT, GPTConfig } from '../src/engine/model/gpt';
import { sample } from '../src/engine/model/sample';
import { CharTokenizer } from '../src/engine/model/tokenizer';
import { adamStepSize, learningRate, train, trainStep } from '../src/engine/model/train';
import { GPTDecodeWebGPU } from '../src/engine/compute/webgpu/gptDecode';
import { GPTStepWebGPU, HostBatch, PendingLoss } from '../src/engine/compute/webgpu/gptStep';

// ---------------------------------------------------------------------------------------------------------------
// what is measured

interface TrainSpec { batchSize: number; lr: number; weightDecay: number; warmupFraction: number; gradClip: number; warmup: number; steps: number; maxSeconds: number }
interface SampleSpec { batch: number; prompt: number; newTokens: number; warmup: number; reps: number; maxSeconds: number }
interface SizeSpec { name: string; config: GPTConfig; train: TrainSpec; sample: SampleSpec }

const V = 64;
function sizes(device: 'cpu' | 'gpu', quick: boolean): SizeSpec[] {
  const tr = (batchSize: number, steps: number): TrainSpec =>
    ({ batchSize, lr: 1e-3, weightDecay: 0.1, warmupFraction: 0.1, gradClip: 1, warmup: 1, steps: quick ? 2 : steps, maxSeconds: 8 });
  const sp = (batch: number, newTokens: number, reps: number): SampleSpec => ({ batch, prompt: 16, newTokens, warmup: 1, reps: quick ? 1 : reps, maxSeconds: 6 });
  const cfg = (nLayer: number, nHead: number, nEmbd: number): GPTConfig =>
    ({ vocabSize: V, nLayer, nHead, nEmbd, blockSize: 128, dropout: 0, pos: 'rope' });
  if (device === 'gpu')
    return [
      { name: 'small', config: cfg(3, 4, 128), train: tr(32, 20), sample: sp(64, 112, 2) },
      { name: 'large', config: cfg(6, 8, 256), train: tr(32, 20), sample: sp(64, 112, 2) },
    ];
  return [
    // the demo's model (star.json defaults: 3 layers, 4 heads, 128 wide, context 128)
    // sampling: best of 3 on both sides, as for training's many steps: a process's first decode pass runs 20-60% slower
    // here (tfjs-wasm 1,350 vs 2,200 tokens/s on the large model: V8 still compiling, OpenBLAS's second thread waking),
    // which a STaR run's thousands of questions amortise
    { name: 'small', config: cfg(3, 4, 128), train: tr(16, 4), sample: sp(32, 64, 3) },
    { name: 'large', config: cfg(6, 8, 256), train: tr(8, 3), sample: sp(16, 48, 3) },
  ];
}

function numParams(c: GPTConfig): number {
  const D = c.nEmbd, L = c.nLayer;
  return 2 * c.vocabSize * D + (c.pos === 'learned' ? c.blockSize * D : 0) + L * (12 * D * D + 13 * D) + 2 * D;
}

/** Matmul FLOPs of one forward token at context `ctx` (attention over the full square for training, as both do). */
function forwardFlopsPerToken(c: GPTConfig, ctx: number): number {
  const D = c.nEmbd, L = c.nLayer;
  return 2 * (12 * L * D * D + c.vocabSize * D) + 4 * L * ctx * D;
}
const trainFlopsPerToken = (c: GPTConfig) => 3 * forwardFlopsPerToken(c, c.blockSize);
/** FLOPs per generated token of a sampling run (prompt prefill included, spread over the new tokens). */
function sampleFlopsPerToken(c: GPTConfig, s: SampleSpec): number {
  let f = s.prompt * forwardFlopsPerToken(c, s.prompt);
  for (let i = 1; i < s.newTokens; i++) f += forwardFlopsPerToken(c, s.prompt + i);
  return f / s.newTokens;
}

// ---------------------------------------------------------------------------------------------------------------
// peak memory: Linux resets the high-water mark (VmHWM) when 5 is written to /proc/self/clear_refs

function resetPeak(): void {
  try { fs.writeFileSync('/proc/self/clear_refs', '5'); } catch { /* not Linux: the process peak stands */ }
}
function peakRssMB(): number {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Math.round(Number(m[1]) / 102.4) / 10;
  } catch { /* fall through */ }
  return Math.round(process.resourceUsage().maxRSS / 102.4) / 10;
}

// ---------------------------------------------------------------------------------------------------------------
// ours: a worker process per measurement

interface WorkerJob { kind: 'peak' | 'model'; backend: 'wasm' | 'webgpu'; size?: SizeSpec; threads?: number[]; n?: number }

const CHARS = Array.from({ length: V - 2 }, (_, i) => String.fromCharCode(48 + i)); // 62 chars + PAD/UNK = 64
function randomText(n: number, rand: () => number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += CHARS[Math.floor(rand() * CHARS.length)];
  return s;
}
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

async function worker(job: WorkerJob): Promise<unknown> {
  const b = await selectBackend(job.backend);
  const base = { backend: b.description, native: nativeInfo(), loadavg: os.loadavg() };
  if (job.kind === 'peak') {
    const n = job.n ?? 1024;
    const a = tf.randomNormal([n, n], 0, 1, 'float32', 1), c = tf.randomNormal([n, n], 0, 1, 'float32', 2);
    const gflops: Record<string, number> = {};
    for (const th of job.threads ?? [1]) {
      if (job.backend === 'wasm') setThreads(th);
      const run = async (reps: number) => {
        let r = tf.matMul(a, c);
        for (let i = 1; i < reps; i++) { r.dispose(); r = tf.matMul(a, c); }
        await r.data();
        r.dispose();
      };
      await run(2);
      let best = Infinity;
      const inner = job.backend === 'webgpu' ? 20 : 1;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await run(inner);
        best = Math.min(best, (performance.now() - t0) / 1e3 / inner);
      }
      gflops[String(th)] = Math.round((2 * n ** 3) / best / 1e8) / 10;
    }
    return { ...base, n, gflops };
  }
  const s = job.size!;
  if (job.backend === 'webgpu' || process.env.STAR_BENCH_ASYNC === '1') return { ...base, ...(await gpuModel(s)) };
  const tok = new CharTokenizer(CHARS);
  const rand = lcg(7);
  const T = s.config.blockSize;
  // train: sequences of T+1 characters, the loss on all of them (prompt ''), batches of B
  const model = new GPT(s.config, undefined, 1);
  const data = Array.from({ length: 4 * s.train.batchSize }, () => ({ prompt: '', completion: randomText(T + 1, rand) }));
  const total = s.train.warmup + s.train.steps;
  const stamps: number[] = [];
  let loss = 0;
  resetPeak();
  stamps.push(performance.now());
  await train(model, tok, data, {
    steps: total, batchSize: s.train.batchSize, lr: s.train.lr, warmupFraction: s.train.warmupFraction,
    weightDecay: s.train.weightDecay, gradClip: s.train.gradClip, seed: 1,
    onStep: (_step, l) => { stamps.push(performance.now()); loss = l; },
  });
  const stepMs = stamps.slice(1).map((t, i) => t - stamps[i]).slice(s.train.warmup);
  const mean = stepMs.reduce((x, y) => x + y, 0) / stepMs.length;
  const tokens = s.train.batchSize * T;
  const trainRes = {
    tokS: Math.round((tokens / mean) * 1e4) / 10, tokSBestStep: Math.round((tokens / Math.min(...stepMs)) * 1e4) / 10,
    msPerStep: Math.round(mean * 100) / 100, loss: Math.round(loss * 1e4) / 1e4, rssMB: peakRssMB(),
  };
  // sample: greedy, a batch of prompts of `prompt` characters, `newTokens` each (no stop sequence)
  const prompts = Array.from({ length: s.sample.batch }, () => randomText(s.sample.prompt, rand));
  const opt = (n: number) => ({ maxNewTokens: n, temperature: 0, topK: 0, stop: [] as string[], batchSize: s.sample.batch });
  for (let i = 0; i < s.sample.warmup; i++) await sample(model, tok, prompts, opt(Math.min(4, s.sample.newTokens)));
  resetPeak();
  let best = Infinity;
  for (let i = 0; i < s.sample.reps; i++) {
    const t0 = performance.now();
    await sample(model, tok, prompts, opt(s.sample.newTokens));
    best = Math.min(best, (performance.now() - t0) / 1e3);
  }
  const sampleRes = { tokS: Math.round(((s.sample.batch * s.sample.newTokens) / best) * 10) / 10, seconds: Math.round(best * 1e4) / 1e4, rssMB: peakRssMB() };
  model.dispose();
  return { ...base, train: trainRes, sample: sampleRes, loadavgAfter: os.loadavg(), tensorsLeft: tf.memory().numTensors };
}

/**
 * WebGPU: train.ts's step (the fused kernels, or tfjs ops with STAR_WEBGPU_FUSED=0) on the same batches, timed over
 * the whole loop with the loss read every 10th step as train() does (per-step callbacks would come in bursts of 10
 * and cannot time one step); then the engine's sampler, as on the CPU.
 */
async function gpuModel(s: SizeSpec): Promise<object> {
  const T = s.config.blockSize, B = s.train.batchSize, V = s.config.vocabSize;
  const fused = tf.getBackend() === 'webgpu' && process.env.STAR_WEBGPU_FUSED !== '0';
  const model = new GPT(s.config, undefined, 1);
  const vars = [...model.params.values()];
  const m = vars.map((v) => tf.variable(tf.zerosLike(v), false));
  const sq = vars.map((v) => tf.variable(tf.zerosLike(v), false));
  const rand = lcg(7);
  const batches: HostBatch[] = Array.from({ length: 4 }, () => {
    const a = Int32Array.from({ length: B * (T + 1) }, () => 2 + Math.floor(rand() * (V - 2)));
    const idx = new Int32Array(B * T), targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) { idx.set(a.subarray(b * (T + 1), b * (T + 1) + T), b * T); targets.set(a.subarray(b * (T + 1) + 1, (b + 1) * (T + 1)), b * T); }
    return { B, T, idx, targets, weights: new Float32Array(B * T).fill(1) };
  });
  const total = s.train.warmup + s.train.steps;
  const hyper = (i: number) => {
    const lr = learningRate(i, total, s.train.lr, s.train.warmupFraction);
    return { lr, stepSize: adamStepSize(lr, i + 1), decay: lr * s.train.weightDecay, clip: s.train.gradClip, seed: 0 };
  };
  let step: (i: number) => PendingLoss;
  let dispatches: number | null = null;
  let st: GPTStepWebGPU | undefined;
  let fusedError: string | undefined;
  if (fused) {
    try {
      st = await GPTStepWebGPU.create(model, B, vars, m, sq, vars.map((v) => v.rank === 2), { beta1: 0.9, beta2: 0.98, eps: 1e-8 });
    } catch (e) {
      fusedError = (e as Error).message; // measured with tfjs ops instead, and said so in the output
    }
  }
  if (st) {
    dispatches = st.dispatchesPerStep;
    step = (i) => st!.step(batches[i % batches.length], hyper(i));
  } else {
    const decays = new Set(vars.filter((v) => v.rank === 2));
    step = (i) => {
      const h = hyper(i);
      return trainStep(model, vars, m, sq, decays, batches[i % batches.length], { lr: h.lr, t: i + 1, weightDecay: s.train.weightDecay, clip: h.clip, seed: 0 });
    };
  }
  resetPeak();
  for (let i = 0; i < s.train.warmup; i++) { const l = step(i); await l.data(); l.dispose(); }
  const every = 10;
  let loss = 0;
  let hostMs = 0; // the CPU's time to issue a step: what bounds a GPU step when it is made of many small dispatches
  const t0 = performance.now();
  for (let i = s.train.warmup; i < total; i++) {
    const h0 = performance.now();
    const l = step(i);
    hostMs += performance.now() - h0;
    if ((i - s.train.warmup + 1) % every === 0 || i === total - 1) loss = (await l.data())[0];
    l.dispose();
  }
  const ms = (performance.now() - t0) / s.train.steps;
  // GPU memory: tfjs's buffers (parameters, moments; all of it with tfjs ops) and the fused step's own
  const MB = (bytes: number) => Math.round(bytes / 2 ** 20 * 10) / 10;
  const tfjsBytes = () => (tf.memory() as { numBytesAllocatedInGPU?: number }).numBytesAllocatedInGPU ?? 0;
  const onGpu = tf.getBackend() === 'webgpu';
  const trainGpuMB = onGpu ? MB(tfjsBytes() + (st?.gpuBytes ?? 0)) : undefined;
  // one more step with each dispatch timed on the GPU (its own pass each, so the sum exceeds a step): where time goes
  const prof = st ? await st.profile(batches[0], hyper(total - 1)) : null;
  const profile = prof?.map((k) => ({ ...k, ms: Math.round(k.ms * 1000) / 1000 }));
  st?.dispose();
  const trainRes = {
    tokS: Math.round(((B * T) / ms) * 1e4) / 10, msPerStep: Math.round(ms * 100) / 100, hostMsPerStep: Math.round((hostMs / s.train.steps) * 100) / 100,
    loss: Math.round(loss * 1e4) / 1e4, lossEvery: every, dispatches, rssMB: peakRssMB(), gpuMB: trainGpuMB, ...(profile ? { profile } : {}),
  };
  tf.dispose([...m, ...sq]);

  // greedy, same-length prompts, every step's tokens read back by the host (stop sequences are checked there)
  const tok = new CharTokenizer(CHARS);
  const prompts = Array.from({ length: s.sample.batch }, () => randomText(s.sample.prompt, rand));
  const said: string[] = [];
  const opt = (n: number) => ({ maxNewTokens: n, temperature: 0, topK: 0, stop: [] as string[], batchSize: s.sample.batch, log: (x: string) => said.push(x) });
  await sample(model, tok, prompts, opt(Math.min(4, s.sample.newTokens)));
  resetPeak();
  let best = Infinity;
  for (let i = 0; i < s.sample.reps; i++) {
    const t1 = performance.now();
    await sample(model, tok, prompts, opt(s.sample.newTokens));
    best = Math.min(best, (performance.now() - t1) / 1e3);
  }
  // the fused decoder's own buffers are what sample() allocates for this batch size: make one to count them
  // (and one token's forward with each dispatch timed: against the time a token took in sample(), what the host's
  // round trip per token costs)
  let decoderBytes = 0;
  let tokenProfile: { kernels: number; gpuMs: number; sampleMsPerToken: number } | undefined;
  if (fused && said[0]?.includes('fused')) {
    const d = await GPTDecodeWebGPU.create(model, s.sample.batch);
    decoderBytes = d.gpuBytes;
    const p = await d.profileToken(s.sample.batch, s.sample.prompt + Math.floor(s.sample.newTokens / 2));
    if (p) tokenProfile = { kernels: p.length, gpuMs: Math.round(p.reduce((a, k) => a + k.ms, 0) * 1000) / 1000, sampleMsPerToken: Math.round((best * 1e6) / s.sample.newTokens) / 1000 };
    d.dispose();
  }
  const sampleRes = {
    tokS: Math.round(((s.sample.batch * s.sample.newTokens) / best) * 10) / 10, seconds: Math.round(best * 1e4) / 1e4, decoder: said[0] ?? '',
    rssMB: peakRssMB(), gpuMB: onGpu ? MB(tfjsBytes() + decoderBytes) : undefined, ...(tokenProfile ? { tokenProfile } : {}),
  };
  model.dispose();
  return { fused: !!st, fusedError, train: trainRes, sample: sampleRes, loadavgAfter: os.loadavg(), tensorsLeft: tf.memory().numTensors };
}

// ---------------------------------------------------------------------------------------------------------------
// the driver

function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'bench', 'torch_twin.py'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`bench/torch_twin.py not found above ${__dirname}`);
}

function lastJson(out: string): any {
  const lines = out.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try { return JSON.parse(lines[i]); } catch { /* not JSON */ }
  }
  throw new Error(`no JSON in output:\n${out.slice(-2000)}`);
}

function runOurs(job: WorkerJob, env: NodeJS.ProcessEnv = process.env): any {
  const r = spawnSync(process.execPath, [__filename, '--worker', JSON.stringify(job)], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`ours (${job.kind}, ${job.backend}) failed: ${workerError(r.stderr)}`);
  return lastJson(r.stdout);
}

/** The error line of a failed worker's stderr (Dawn prints warnings before it), else its last lines. */
function workerError(stderr: string): string {
  const lines = stderr.trim().split('\n');
  const at = lines.findIndex((l) => /^\w*Error\b/.test(l));
  return at >= 0 ? lines[at] : lines.slice(-3).join('\n');
}

/**
 * The BLAS behind Debian's libblas.so.3, which Debian's torch calls: python3-torch alone may bring the reference
 * BLAS (measured here: 5 GFLOP/s sgemm, a peer 20x too slow); the peer is OpenBLAS (libopenblas0-pthread).
 */
function debianBlas(): string {
  try {
    return fs.realpathSync('/usr/lib/x86_64-linux-gnu/libblas.so.3');
  } catch {
    return 'unknown';
  }
}

/** A python3 with torch: STAR_BENCH_PYTHON, else Debian's /usr/bin/python3 (CPU, on OpenBLAS) or the first on PATH (GPU). */
function findPython(device: 'cpu' | 'gpu', log: (s: string) => void): string {
  const py = process.env.STAR_BENCH_PYTHON ?? (device === 'cpu' && fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  const hasTorch = () => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  const debian = device === 'cpu' && py === '/usr/bin/python3';
  if (hasTorch() && (!debian || /openblas/.test(debianBlas()))) return py;
  if (device === 'gpu' || process.platform !== 'linux' || !fs.existsSync('/usr/bin/apt-get'))
    throw new Error(`${py} cannot import torch`);
  log(`PyTorch ${hasTorch() ? `runs on ${debianBlas()}` : 'is missing'}: apt-get install -y python3-torch libopenblas0-pthread (Debian) ...`);
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  execFileSync(sudo[0] ?? 'apt-get', [...(sudo.length ? ['apt-get'] : []), 'install', '-y', '-qq', 'python3-torch', 'libopenblas0-pthread'], {
    stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (!hasTorch()) throw new Error(`${py} still cannot import torch after installing python3-torch`);
  if (debian && !/openblas/.test(debianBlas())) throw new Error(`libblas.so.3 is ${debianBlas()}, not OpenBLAS: see update-alternatives --config libblas.so.3-x86_64-linux-gnu`);
  return py;
}

function runTorch(py: string, cmd: string, arg: object, coretype: string | null): any {
  const env = { ...process.env };
  // For this process only: OpenBLAS picks its kernels itself, or is told the core type.
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  const r = spawnSync(py, [path.join(packageRoot(), 'bench', 'torch_twin.py'), cmd, JSON.stringify(arg)], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`torch_twin.py ${cmd} failed: ${r.stderr.slice(-3000)}`);
  return lastJson(r.stdout);
}

interface Meas { tokS: number; load: number; rssMB: number; gpuMB?: number; threads?: number }
const best = (xs: Meas[]) => xs.reduce((a, b) => (b.tokS > a.tokS ? b : a));
const spread = (xs: number[]) => (xs.length > 1 ? (Math.max(...xs) - Math.min(...xs)) / Math.max(...xs) : 0);
const r2 = (x: number) => Math.round(x * 100) / 100;
const r1 = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (f: string) => args.includes(f);
  const opt = (f: string) => { const i = args.indexOf(f); return i >= 0 ? args[i + 1] : undefined; };
  const json = flag('--json');
  const device = (opt('--device') ?? 'cpu') as 'cpu' | 'gpu';
  if (device !== 'cpu' && device !== 'gpu') throw new Error('--device cpu|gpu');
  const reps = Number(opt('--reps') ?? 2);
  const quick = flag('--quick');
  // --with-ops (GPU): also the tfjs-ops WebGPU path, beside the fused kernels
  const withOps = device === 'gpu' && flag('--with-ops');
  const want = opt('--sizes')?.split(',');
  const specs = sizes(device, quick).filter((s) => !want || want.includes(s.name));
  const log = (s: string) => process.stderr.write(s + '\n');
  const t0 = Date.now();
  const backend = device === 'gpu' ? 'webgpu' : 'wasm';
  const torchDev = device === 'gpu' ? 'cuda' : 'cpu';
  const threads = device === 'gpu' ? [1] : [1, 2];

  log(`bench: device ${device}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${reps} repetitions, load average ${os.loadavg().map(r2).join(' ')}`);

  // 1. the machine's matmul peak: sgemm 1024^2, ours (addon / webgpu) and torch
  const peakOurs = runOurs({ kind: 'peak', backend, threads, n: 1024 });
  const py = findPython(device, log);
  log(`ours: ${peakOurs.backend}${peakOurs.native ? `, OpenBLAS core ${peakOurs.native.blasCore}` : ''}`);
  const fixedCore: string | null = device === 'cpu' ? (peakOurs.native?.blasCore ?? 'SkylakeX') : null;
  const variants: { name: string; core: string | null }[] = device === 'cpu'
    ? [{ name: 'torch', core: null }, { name: `torch+${fixedCore}`, core: fixedCore }]
    : [{ name: 'torch-cuda', core: null }];
  const peakTorch: Record<string, any> = {};
  for (const v of variants) peakTorch[v.name] = runTorch(py, 'peak', { threads, device: torchDev, n: 1024, reps: 5, inner: device === 'gpu' ? 20 : 1 }, v.core);
  const peak = Math.max(...Object.values(peakOurs.gflops as Record<string, number>), ...Object.values(peakTorch).flatMap((p) => Object.values(p.gflops as Record<string, number>)));
  log(`sgemm 1024^2 GFLOP/s: ours ${JSON.stringify(peakOurs.gflops)}; ${variants.map((v) => `${v.name} ${JSON.stringify(peakTorch[v.name].gflops)}`).join('; ')} -> peak ${peak}`);

  // 2. alternating: per repetition and size, ours then each torch variant
  const meas: Record<string, Record<string, { train: Meas[]; sample: Meas[] }>> = {};
  const add = (impl: string, size: string, kind: 'train' | 'sample', m: Meas) => {
    meas[impl] ??= {};
    meas[impl][size] ??= { train: [], sample: [] };
    meas[impl][size][kind].push(m);
  };
  const raw: unknown[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const s of specs) {
      const o = runOurs({ kind: 'model', backend, size: s });
      raw.push({ impl: 'ours', size: s.name, rep, ...o });
      const load = r2(o.loadavg[0]);
      add('ours', s.name, 'train', { tokS: o.train.tokS, load, rssMB: o.train.rssMB, gpuMB: o.train.gpuMB });
      add('ours', s.name, 'sample', { tokS: o.sample.tokS, load, rssMB: o.sample.rssMB, gpuMB: o.sample.gpuMB });
      log(`[${((Date.now() - t0) / 1e3).toFixed(0)}s] rep ${rep + 1} ${s.name} ours: train ${o.train.tokS} tok/s (loss ${o.train.loss}), sample ${o.sample.tokS} tok/s, load ${load}`);
      if (withOps) {
        // the same on WebGPU with tfjs ops instead of the fused kernels: what the fusion buys
        const x = runOurs({ kind: 'model', backend, size: s }, { ...process.env, STAR_WEBGPU_FUSED: '0' });
        raw.push({ impl: 'ours-ops', size: s.name, rep, ...x });
        add('ours-ops', s.name, 'train', { tokS: x.train.tokS, load: r2(x.loadavg[0]), rssMB: x.train.rssMB, gpuMB: x.train.gpuMB });
        add('ours-ops', s.name, 'sample', { tokS: x.sample.tokS, load: r2(x.loadavg[0]), rssMB: x.sample.rssMB, gpuMB: x.sample.gpuMB });
        log(`[${((Date.now() - t0) / 1e3).toFixed(0)}s] rep ${rep + 1} ${s.name} ours-ops: train ${x.train.tokS} tok/s (loss ${x.train.loss}), sample ${x.sample.tokS} tok/s`);
      }
      for (const v of variants) {
        const t = runTorch(py, 'bench', { config: s.config, train: s.train, sample: s.sample, threads, device: torchDev }, v.core);
        raw.push({ impl: v.name, size: s.name, rep, ...t });
        for (const run of t.runs) {
          const l = r2(run.loadavg[0]);
          add(v.name, s.name, 'train', { tokS: run.train.tokS, load: l, rssMB: run.train.rssMB, gpuMB: run.train.gpuMB, threads: run.threads });
          add(v.name, s.name, 'sample', { tokS: run.sample.tokS, load: l, rssMB: run.sample.rssMB, gpuMB: run.sample.gpuMB, threads: run.threads });
        }
        log(`[${((Date.now() - t0) / 1e3).toFixed(0)}s] rep ${rep + 1} ${s.name} ${v.name}: ` +
          t.runs.map((r: any) => `${r.threads}t train ${r.train.tokS} sample ${r.sample.tokS}`).join(', '));
      }
    }
  }

  // 3. summary: best of the repetitions (and of the thread counts for torch)
  const impls = ['ours', ...(withOps ? ['ours-ops'] : []), ...variants.map((v) => v.name)];
  const results = specs.map((s) => {
    const row: any = { size: s.name, params: numParams(s.config), config: s.config, batch: s.train.batchSize, seq: s.config.blockSize, sampling: s.sample };
    for (const kind of ['train', 'sample'] as const) {
      const flopsPerTok = kind === 'train' ? trainFlopsPerToken(s.config) : sampleFlopsPerToken(s.config, s.sample);
      row[kind] = {};
      for (const impl of impls) {
        const all = meas[impl][s.name][kind];
        const b = best(all);
        const gf = (b.tokS * flopsPerTok) / 1e9;
        row[kind][impl] = {
          tokS: b.tokS, gflops: r1(gf), pctPeak: r1((100 * gf) / peak), rssMB: Math.max(...all.map((m) => m.rssMB)),
          ...(b.gpuMB !== undefined ? { gpuMB: b.gpuMB } : {}), ...(b.threads !== undefined ? { threads: b.threads } : {}),
          load: b.load, loads: all.map((m) => m.load), spread: r2(spread(all.filter((m) => m.threads === b.threads).map((m) => m.tokS))), n: all.length,
        };
      }
      for (const v of variants) row[kind][`ratio_vs_${v.name}`] = r2(row[kind].ours.tokS / row[kind][v.name].tokS);
    }
    return row;
  });
  const summary = {
    device, machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavgEnd: os.loadavg().map(r2) },
    ours: peakOurs.backend, blasCore: peakOurs.native?.blasCore ?? null, torch: peakTorch[variants[0].name].torch,
    torchBlas: device === 'cpu' ? debianBlas() : null,
    peakGflops: { ours: peakOurs.gflops, ...Object.fromEntries(variants.map((v) => [v.name, peakTorch[v.name].gflops])), best: peak },
    reps, seconds: Math.round((Date.now() - t0) / 1000), results, raw,
  };

  // 4. the table
  const lines: string[] = [];
  lines.push(`STaR Studio bench (${device}): ours = ${summary.ours}; PyTorch ${summary.torch}${summary.torchBlas ? ` on ${summary.torchBlas}` : ''}; ${reps} repetitions, best counts; ${summary.seconds} s`);
  lines.push(`matmul peak (sgemm 1024^2, GFLOP/s): ours ${fmtThreads(peakOurs.gflops)}; ${variants.map((v) => `${v.name} ${fmtThreads(peakTorch[v.name].gflops)}`).join('; ')}; peak used: ${peak}`);
  const head = ['size', 'params', 'work', 'impl', 'tokens/s', 'GFLOP/s', '% peak', 'peak RSS MB', 'threads', 'load', 'spread'];
  const rows: string[][] = [];
  for (const r of results)
    for (const kind of ['train', 'sample'] as const)
      for (const impl of impls) {
        const m = r[kind][impl];
        rows.push([r.size, `${(r.params / 1e6).toFixed(2)}M`, kind === 'train' ? `train B=${r.batch} T=${r.seq}` : `sample ${r.sampling.batch}x${r.sampling.newTokens}`,
          impl, String(m.tokS), String(m.gflops), String(m.pctPeak), String(m.rssMB) + (m.gpuMB !== undefined ? ` (GPU ${m.gpuMB})` : ''),
          m.threads !== undefined ? String(m.threads) : '-', m.loads.join('/'), `${Math.round(m.spread * 100)}%`]);
      }
  lines.push(table(head, rows));
  lines.push('ratios ours/PyTorch (tokens/s):');
  for (const r of results)
    lines.push(`  ${r.size.padEnd(6)} train ${variants.map((v) => `${r.train[`ratio_vs_${v.name}`]}x vs ${v.name}`).join(', ')}; sample ${variants.map((v) => `${r.sample[`ratio_vs_${v.name}`]}x vs ${v.name}`).join(', ')}`);
  for (const x of raw as any[]) {
    if (x.impl === 'ours' && x.fusedError) lines.push(`WARNING ${x.size}: the fused kernels did not run (${x.fusedError}); "ours" is tfjs ops`);
    const twin = (raw as any[]).find((y) => y.impl === 'ours-ops' && y.size === x.size && y.rep === x.rep);
    if (x.impl === 'ours' && x.fused && twin) {
      // same weights, batches and hyperparameters: the losses must agree, or a kernel is wrong on this GPU
      const rel = Math.abs(x.train.loss - twin.train.loss) / Math.abs(twin.train.loss);
      lines.push(`${x.size} rep ${x.rep + 1}: loss at the last step, fused ${x.train.loss} vs tfjs ops ${twin.train.loss}${rel > 1e-3 ? '  <-- DISAGREE' : ' (agree)'}`);
    }
    const tp = x.impl === 'ours' && x.rep === 0 ? x.sample?.tokenProfile : undefined;
    if (tp) lines.push(`fused decoding, ${x.size}: one token's forward ${tp.gpuMs} ms of GPU time (${tp.kernels} dispatches, one pass each); in sample() a token step took ${tp.sampleMsPerToken} ms`);
    if (x.impl !== 'ours' || x.rep !== 0 || !x.train?.profile) continue;
    const total = x.train.profile.reduce((a: number, k: any) => a + k.ms, 0);
    lines.push(`fused step, ${x.size}: GPU time by kernel (one pass a dispatch, ${r2(total)} ms in all; issue ${x.train.hostMsPerStep} ms/step on the CPU):`);
    for (const k of x.train.profile.slice(0, 10)) lines.push(`  ${k.kernel.padEnd(44)} ${String(k.calls).padStart(4)} calls ${k.ms.toFixed(3).padStart(9)} ms ${r1((100 * k.ms) / total).toString().padStart(5)}%`);
  }
  const loads = raw.map((x: any) => x.loadavg?.[0] ?? x.runs?.[0]?.loadavg?.[0]).filter((x: any) => typeof x === 'number');
  lines.push(`load average during the run: ${r2(Math.min(...loads))}-${r2(Math.max(...loads))} on ${os.cpus().length} CPUs; spread = (max-min)/max over repetitions`);
  console.log(lines.join('\n'));
  if (json) console.log(JSON.stringify(summary));
}

function fmtThreads(g: Record<string, number>): string {
  return Object.entries(g).map(([t, v]) => `${v} (${t}t)`).join(' / ');
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i < 4 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

if (process.argv[2] === '--worker') {
  worker(JSON.parse(process.argv[3]))
    .then((r) => { console.log(JSON.stringify(r)); process.exit(0); })
    .catch((e) => { console.error(e?.stack ?? e); process.exit(1); });
} else {
  main().then(() => process.exit(0)).catch((e) => { console.error(`bench: ${process.env.STAR_BENCH_DEBUG ? e?.stack : e?.message ?? e}`); process.exit(1); });
}
