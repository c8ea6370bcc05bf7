// WGSL kernels of the GPT's training step (forward, backward and AdamW, as in llm.c, one dispatch each) and of its
// decoding with a KV cache.
// Every kernel reads its sizes from a uniform struct of 32-bit fields (all u32 but those listed as f32), bound at
// binding 0; its storage buffers follow at 1, 2, ... in the order of `buffers`.

export interface KernelDef {
  name: string;
  /** uniform fields in order; names ending in ':f' are f32, the rest u32 */
  uniforms: string[];
  /**
   * storage bindings in order: 'r' read-only, 'w' read-write; a name ending in ':i' is array<i32>, ':v4'
   * array<vec4<f32>> (the same buffer read four floats at a time), else array<f32>
   */
  buffers: [string, 'r' | 'w'][];
  workgroupSize: [number, number];
  /** the body of `fn main(lid, wid, gid)`, plus helpers */
  code: string;
}

const pcg = /* wgsl */ `
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
// Inverted dropout: the same (seed, site, index) gives the same mask forward and backward.
fn dropScale(seed: u32, site: u32, i: u32, keep: f32) -> f32 {
  if (keep >= 1.0) { return 1.0; }
  let r = f32(pcg(pcg(i ^ (site * 2654435769u)) ^ seed) >> 8u) / 16777216.0;
  return select(0.0, 1.0 / keep, r < keep);
}`;

// GPT-NeoX rotary embedding of channel i of a head: x cos + rotate_half(x) sin, rotate_half(x)[i] = -x[i + hd/2]
// for i < hd/2, x[i - hd/2] above; `partner` is x at ropePartner(i).
const ropeFns = /* wgsl */ `
fn ropePartner(i: u32, hd: u32) -> u32 { return select(i - hd / 2u, i + hd / 2u, i < hd / 2u); }
fn ropeRotate(x: f32, partner: f32, i: u32, hd: u32, cs: f32, sn: f32) -> f32 {
  return x * cs + select(1.0, -1.0, i < hd / 2u) * partner * sn;
}`;

// tanh from exp(-2|x|), as tfjs-webgpu computes it: some GPUs' built-in tanh returns NaN for large arguments.
const geluFns = /* wgsl */ `
const GELU_C: f32 = 0.7978845608028654;
fn tanhSafe(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn gelu(x: f32) -> f32 { return 0.5 * x * (1.0 + tanhSafe(GELU_C * (x + 0.044715 * x * x * x))); }
fn geluGrad(x: f32) -> f32 {
  let t = tanhSafe(GELU_C * (x + 0.044715 * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * 0.044715 * x * x);
}`;

const reduce64 = /* wgsl */ `
var<workgroup> red: array<f32, 64>;
fn sum64(v: f32, l: u32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (l < s) { red[l] += red[l + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn max64(v: f32, l: u32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (l < s) { red[l] = max(red[l], red[l + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;

export interface MatmulVariant {
  /** A is stored [K, M] */
  transA: boolean;
  /** B is stored [N, K] */
  transB: boolean;
  bias: boolean;
  /** gelu() applied to A's elements as they are loaded (the MLP's activation is never stored) */
  geluA: boolean;
  /** out = R + dropout(A·B + bias): the residual stream */
  resid: boolean;
  dropout: boolean;
  /** out = (A·B) * gelu'(G): the MLP's backward through its activation */
  geluGradOut: boolean;
  /**
   * Workgroup z sums K-range [z*kChunk, (z+1)*kChunk) into C[z, M, N] (sumSplits adds them up): a weight gradient's
   * K is the batch's every position, its M x N output only a few tiles, so without splitting few workgroups would run.
   */
  splitK?: boolean;
}

/**
 * C[M, N] = op(A)[M, K] · op(B)[K, N] with an epilogue; 64x64 tiles, 16x16 threads of 4x4 outputs each, read from
 * workgroup memory as two vec4 a step (4 rows of A, 4 columns of B) for 16 multiply-adds.
 * Loads map neighbouring threads to neighbouring addresses in whichever layout A and B have.
 */
export function matmul(v: MatmulVariant): KernelDef {
  const key = Object.entries(v).filter(([, on]) => on).map(([k]) => k).join('+') || 'plain';
  const buffers: [string, 'r' | 'w'][] = [['A', 'r'], ['B', 'r']];
  if (v.bias) buffers.push(['bias', 'r']);
  if (v.resid) buffers.push(['R', 'r']);
  if (v.geluGradOut) buffers.push(['G', 'r']);
  buffers.push(['C', 'w']);
  const aIndex = v.transA ? 'k * u.M + m' : 'm * u.K + k';
  const bIndex = v.transB ? 'n * u.K + k' : 'k * u.N + n';
  // thread e of 256 loads element e + 256 i of a 16 (k) x 64 tile, k fastest when k is the contiguous axis
  const aSlot = v.transA ? 'let kk = e / 64u; let mm = e % 64u;' : 'let kk = e % 16u; let mm = e / 16u;';
  const bSlot = v.transB ? 'let kk = e % 16u; let nn = e / 16u;' : 'let kk = e / 64u; let nn = e % 64u;';
  return {
    name: `matmul[${key}]`,
    uniforms: ['M', 'N', 'K', 'seed', 'site', 'keep:f', 'kChunk'],
    buffers,
    workgroupSize: [16, 16],
    code: /* wgsl */ `
${pcg}
${geluFns}
// [k][m / 4] and [k][n / 4]: a thread reads its 4 rows of A and 4 columns of B at one k as one vec4 each
var<workgroup> As: array<array<vec4<f32>, 16>, 16>;
var<workgroup> Bs: array<array<vec4<f32>, 16>, 16>;
fn loadA(m: u32, k: u32, kEnd: u32) -> f32 {
  if (m >= u.M || k >= kEnd) { return 0.0; }
  return ${v.geluA ? `gelu(A[${aIndex}])` : `A[${aIndex}]`};
}
fn loadB(k: u32, n: u32, kEnd: u32) -> f32 {
  if (n >= u.N || k >= kEnd) { return 0.0; }
  return B[${bIndex}];
}
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let row0 = wid.y * 64u;
  let col0 = wid.x * 64u;
  let tid = lid.y * 16u + lid.x;
  // acc[i]: row lid.y*4 + i of the tile, columns lid.x*4 .. +3
  var acc: array<vec4<f32>, 4>;
  let kBegin = wid.z * u.kChunk;
  let kEnd = min(kBegin + u.kChunk, u.K);
  for (var k0 = kBegin; k0 < kEnd; k0 += 16u) {
    for (var i = 0u; i < 4u; i++) {
      let e = tid + i * 256u;
      { ${aSlot} As[kk][mm >> 2u][mm & 3u] = loadA(row0 + mm, k0 + kk, kEnd); }
      { ${bSlot} Bs[kk][nn >> 2u][nn & 3u] = loadB(k0 + kk, col0 + nn, kEnd); }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let a = As[kk][lid.y];
      let b = Bs[kk][lid.x];
      acc[0] = fma(vec4<f32>(a.x), b, acc[0]);
      acc[1] = fma(vec4<f32>(a.y), b, acc[1]);
      acc[2] = fma(vec4<f32>(a.z), b, acc[2]);
      acc[3] = fma(vec4<f32>(a.w), b, acc[3]);
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + lid.y * 4u + i;
    if (r >= u.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let c = col0 + lid.x * 4u + j;
      if (c >= u.N) { continue; }
      let o = r * u.N + c;
      var val = acc[i][j];
      ${v.bias ? 'val += bias[c];' : ''}
      ${v.dropout ? 'val *= dropScale(u.seed, u.site, o, u.keep);' : ''}
      ${v.resid ? 'val += R[o];' : ''}
      ${v.geluGradOut ? 'val *= geluGrad(G[o]);' : ''}
      C[${v.splitK ? 'wid.z * u.M * u.N + o' : 'o'}] = val;
    }
  }
}`,
  };
}

/** Out[i] = sum over z of P[z, i]: the K-splits of a matmul added up. */
export const sumSplits: KernelDef = {
  name: 'sumSplits',
  uniforms: ['size', 'splits'],
  buffers: [['P', 'r'], ['Out', 'w']],
  workgroupSize: [256, 1],
  code: /* wgsl */ `
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let i = flatIndex(gid);
  if (i >= u.size) { return; }
  var s = 0.0;
  for (var z = 0u; z < u.splits; z++) { s += P[z * u.size + i]; }
  Out[i] = s;
}`,
};

/** x0[n, :] = dropout(wte[idx[n], :] (+ wpe[t, :])). One thread per element. */
export function embedForward(learnedPos: boolean): KernelDef {
  return {
    name: `embedForward${learnedPos ? '[wpe]' : ''}`,
    uniforms: ['N', 'D', 'T', 'seed', 'site', 'keep:f'],
    buffers: [['idx:i', 'r'], ['wte', 'r'], ...(learnedPos ? [['wpe', 'r'] as [string, 'r']] : []), ['X', 'w']],
    workgroupSize: [256, 1],
    code: /* wgsl */ `
${pcg}
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let o = flatIndex(gid);
  if (o >= u.N * u.D) { return; }
  let n = o / u.D;
  let d = o % u.D;
  var val = wte[u32(idx[n]) * u.D + d];
  ${learnedPos ? 'val += wpe[(n % u.T) * u.D + d];' : ''}
  X[o] = val * dropScale(u.seed, u.site, o, u.keep);
}`,
  };
}

/**
 * Gradients of the embedding tables: P[chunk, v, :] = sum of dX over the chunk's rows (chunks of rows give more
 * workgroups than a character vocabulary's few table rows would) whose token is v (every row of
 * the table written, zeros included; sumSplits adds the chunks into dwte), and for learned positions dwpe[t, :] over
 * the batch, written by the first chunk. dX already carries the dropout mask.
 */
export function embedBackward(learnedPos: boolean): KernelDef {
  return {
    name: `embedBackward${learnedPos ? '[wpe]' : ''}`,
    uniforms: ['N', 'D', 'T', 'V', 'blockSize', 'offWpe', 'chunkRows'],
    buffers: [['idx:i', 'r'], ['dX', 'r'], ['P', 'w'], ['G', 'w']],
    workgroupSize: [256, 1],
    code: /* wgsl */ `
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let o = gid.x;
  let chunk = wid.y;
  if (o < u.V * u.D) {
    let v = i32(o / u.D);
    let d = o % u.D;
    var acc = 0.0;
    let end = min((chunk + 1u) * u.chunkRows, u.N);
    for (var n = chunk * u.chunkRows; n < end; n++) {
      if (idx[n] == v) { acc += dX[n * u.D + d]; }
    }
    P[chunk * u.V * u.D + o] = acc;
  }
  ${learnedPos ? /* wgsl */ `
  if (chunk == 0u && o < u.blockSize * u.D) {
    let t = o / u.D;
    let d = o % u.D;
    var acc = 0.0;
    if (t < u.T) {
      for (var n = t; n < u.N; n += u.T) { acc += dX[n * u.D + d]; }
    }
    G[u.offWpe + o] = acc;
  }` : '_ = G[0];'}
}`,
  };
}

/** out = dropout mask applied to x (the backward of a dropout whose forward ran in an epilogue). */
export const dropoutMask: KernelDef = {
  name: 'dropoutMask',
  uniforms: ['size', 'seed', 'site', 'keep:f'],
  buffers: [['X', 'r'], ['Y', 'w']],
  workgroupSize: [256, 1],
  code: /* wgsl */ `
${pcg}
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let o = flatIndex(gid);
  if (o >= u.size) { return; }
  Y[o] = X[o] * dropScale(u.seed, u.site, o, u.keep);
}`,
};

/** LayerNorm over rows of D: Y, and each row's mean and 1/std for the backward. One workgroup of 64 per row. */
export const layerNormForward: KernelDef = {
  name: 'layerNormForward',
  uniforms: ['N', 'D', 'eps:f'],
  buffers: [['X', 'r'], ['gamma', 'r'], ['beta', 'r'], ['Y', 'w'], ['mean', 'w'], ['rstd', 'w']],
  workgroupSize: [64, 1],
  code: /* wgsl */ `
${reduce64}
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let n = wid.x + wid.y * 65535u;
  if (n >= u.N) { return; }
  let base = n * u.D;
  let l = lid.x;
  var s = 0.0;
  for (var d = l; d < u.D; d += 64u) { s += X[base + d]; }
  let mu = sum64(s, l) / f32(u.D);
  var q = 0.0;
  for (var d = l; d < u.D; d += 64u) { let c = X[base + d] - mu; q += c * c; }
  let r = inverseSqrt(sum64(q, l) / f32(u.D) + u.eps);
  for (var d = l; d < u.D; d += 64u) { Y[base + d] = (X[base + d] - mu) * r * gamma[d] + beta[d]; }
  if (l == 0u) { mean[n] = mu; rstd[n] = r; }
}`,
};

/** dX (+)= the LayerNorm backward of dY. One workgroup of 64 per row. */
export function layerNormBackward(accumulate: boolean): KernelDef {
  return {
    name: `layerNormBackward${accumulate ? '[acc]' : ''}`,
    uniforms: ['N', 'D'],
    buffers: [['X', 'r'], ['gamma', 'r'], ['mean', 'r'], ['rstd', 'r'], ['dY', 'r'], ['dX', 'w']],
    workgroupSize: [64, 1],
    code: /* wgsl */ `
${reduce64}
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let n = wid.x + wid.y * 65535u;
  if (n >= u.N) { return; }
  let base = n * u.D;
  let l = lid.x;
  let mu = mean[n];
  let r = rstd[n];
  var a = 0.0;
  var b = 0.0;
  for (var d = l; d < u.D; d += 64u) {
    let g = dY[base + d] * gamma[d];
    a += g;
    b += g * (X[base + d] - mu) * r;
  }
  let ma = sum64(a, l) / f32(u.D);
  let mb = sum64(b, l) / f32(u.D);
  for (var d = l; d < u.D; d += 64u) {
    let xh = (X[base + d] - mu) * r;
    let dx = r * (dY[base + d] * gamma[d] - ma - xh * mb);
    dX[base + d] = ${accumulate ? 'dX[base + d] + dx' : 'dx'};
  }
}`,
  };
}

/** Rows per workgroup of the column reductions (parameter gradients of biases and LayerNorm gains). */
export const COL_CHUNK = 256;

/**
 * Partial column sums over chunks of COL_CHUNK rows: of X (a bias gradient), or of dY * xhat and dY (LayerNorm's
 * gamma and beta). P[chunk, c] (and P[chunks + chunk, c] for beta). Threads along columns; rows looped.
 */
export function colSumPartial(layerNorm: boolean): KernelDef {
  return {
    name: `colSumPartial${layerNorm ? '[ln]' : ''}`,
    uniforms: ['N', 'C', 'chunks'],
    buffers: layerNorm
      ? [['X', 'r'], ['mean', 'r'], ['rstd', 'r'], ['dY', 'r'], ['P', 'w']]
      : [['X', 'r'], ['P', 'w']],
    workgroupSize: [64, 1],
    code: /* wgsl */ `
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let c = wid.x * 64u + lid.x;
  if (c >= u.C) { return; }
  let r0 = wid.y * ${COL_CHUNK}u;
  let r1 = min(r0 + ${COL_CHUNK}u, u.N);
  var s = 0.0;
  ${layerNorm ? 'var s2 = 0.0;' : ''}
  for (var r = r0; r < r1; r++) {
    ${layerNorm
      ? 'let g = dY[r * u.C + c]; s += g * (X[r * u.C + c] - mean[r]) * rstd[r]; s2 += g;'
      : 's += X[r * u.C + c];'}
  }
  P[wid.y * u.C + c] = s;
  ${layerNorm ? 'P[(u.chunks + wid.y) * u.C + c] = s2;' : ''}
}`,
  };
}

/** G[off + c] = sum over chunks of P[chunk, c] (and G[off2 + c] from the second half, for LayerNorm's beta). */
export function colSumFinish(two: boolean): KernelDef {
  return {
    name: `colSumFinish${two ? '[2]' : ''}`,
    uniforms: ['C', 'chunks', 'off', 'off2'],
    buffers: [['P', 'r'], ['G', 'w']],
    workgroupSize: [64, 1],
    code: /* wgsl */ `
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let c = gid.x;
  if (c >= u.C) { return; }
  var s = 0.0;
  for (var k = 0u; k < u.chunks; k++) { s += P[k * u.C + c]; }
  G[u.off + c] = s;
  ${two ? 'var s2 = 0.0; for (var k = 0u; k < u.chunks; k++) { s2 += P[(u.chunks + k) * u.C + c]; } G[u.off2 + c] = s2;' : ''}
}`,
  };
}

/** Where channel c of row n (= b*T + t) of an [N, D] activation lives in the [B, H, T, hd] layout of one head. */
const headIndex = /* wgsl */ `
fn headIndex(n: u32, c: u32) -> u32 { return (((n / u.T) * u.H + c / u.hd) * u.T + n % u.T) * u.hd + c % u.hd; }`;

/**
 * A kernel between qkv [N, 3D] and the per-head layout [B, H, T, hd]: one thread per (row n, channel c) of an [N, D]
 * activation, with the rotary and head-index helpers in scope; `body` goes on from n and c.
 */
function qkvLayoutKernel(name: string, buffers: KernelDef['buffers'], body: string): KernelDef {
  return {
    name,
    uniforms: ['N', 'D', 'T', 'H', 'hd'],
    buffers,
    workgroupSize: [256, 1],
    code: /* wgsl */ `
${ropeFns}
${headIndex}
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let e = flatIndex(gid);
  if (e >= u.N * u.D) { return; }
  let n = e / u.D;
  let c = e % u.D;${body}
}`,
  };
}

/**
 * Splits qkv [N, 3D] into Q, K, V [B, H, T, hd] and rotates Q and K (GPT-NeoX half rotation) with the model's own
 * cos/sin tables [blockSize, hd], the same numbers the tfjs model uses.
 */
export function qkvSplit(rope: boolean): KernelDef {
  return qkvLayoutKernel(`qkvSplit${rope ? '[rope]' : ''}`, [['QKV', 'r'], ['cosT', 'r'], ['sinT', 'r'], ['Q', 'w'], ['K', 'w'], ['V', 'w']], /* wgsl */ `
  let o = headIndex(n, c);
  let i = c % u.hd;
  let row = n * 3u * u.D;
  var q = QKV[row + c];
  var k = QKV[row + u.D + c];
  ${rope ? /* wgsl */ `
  let p = c - i + ropePartner(i, u.hd);
  let cs = cosT[(n % u.T) * u.hd + i];
  let sn = sinT[(n % u.T) * u.hd + i];
  q = ropeRotate(q, QKV[row + p], i, u.hd, cs, sn);
  k = ropeRotate(k, QKV[row + u.D + p], i, u.hd, cs, sn);` : '_ = cosT[0] + sinT[0];'}
  Q[o] = q;
  K[o] = k;
  V[o] = QKV[row + 2u * u.D + c];`);
}

/** The backward of qkvSplit: dQ, dK (rotated back) and dV [B, H, T, hd] into dQKV [N, 3D]. */
export function qkvMerge(rope: boolean): KernelDef {
  return qkvLayoutKernel(`qkvMerge${rope ? '[rope]' : ''}`, [['dQ', 'r'], ['dK', 'r'], ['dV', 'r'], ['cosT', 'r'], ['sinT', 'r'], ['dQKV', 'w']], /* wgsl */ `
  let j = c % u.hd;
  let base = headIndex(n, c) - j;
  let tp = (n % u.T) * u.hd;
  var dq = dQ[base + j];
  var dk = dK[base + j];
  ${rope ? /* wgsl */ `
  // the transpose of ropeRotate: channel j gets its own gradient times cos, and its partner p's times sin with the
  // sign p itself was rotated with
  let p = ropePartner(j, u.hd);
  dq = ropeRotate(dq, dQ[base + p] * sinT[tp + p], p, u.hd, cosT[tp + j], 1.0);
  dk = ropeRotate(dk, dK[base + p] * sinT[tp + p], p, u.hd, cosT[tp + j], 1.0);` : '_ = cosT[0] + sinT[0];'}
  let row = n * 3u * u.D;
  dQKV[row + c] = dq;
  dQKV[row + u.D + c] = dk;
  dQKV[row + 2u * u.D + c] = dV[base + j];`);
}

/**
 * Causal attention forward for one query row per workgroup: P[b, h, t, :] = softmax(q·K^T * scale) over keys <= t
 * (zeros after t), saved for the backward, and Y[n, h*hd:] = P · V in the [N, D] layout the projection reads.
 */
export function attentionForward(maxT: number, hd: number): KernelDef {
  return {
    name: `attentionForward[T${maxT},hd${hd}]`,
    uniforms: ['T', 'H', 'scale:f'],
    buffers: [['Q', 'r'], ['K:v4', 'r'], ['V', 'r'], ['P', 'w'], ['Y', 'w']],
    workgroupSize: [64, 1],
    code: /* wgsl */ `
${reduce64}
const HD = ${hd}u;
var<workgroup> q: array<vec4<f32>, ${hd / 4}>;
var<workgroup> p: array<f32, ${maxT}>;
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let t = wid.x;
  let bh = wid.y;
  let l = lid.x;
  let base = bh * u.T * HD;
  for (var d = l; d < HD; d += 64u) { q[d >> 2u][d & 3u] = Q[base + t * HD + d]; }
  workgroupBarrier();
  var mx = -3.4e38;
  for (var s = l; s <= t; s += 64u) {
    var qk = 0.0;
    let k4 = (base + s * HD) / 4u;
    for (var d = 0u; d < HD / 4u; d++) { qk += dot(q[d], K[k4 + d]); }
    let sc = qk * u.scale;
    p[s] = sc;
    mx = max(mx, sc);
  }
  let m = max64(mx, l);
  var sum = 0.0;
  for (var s = l; s <= t; s += 64u) { let e = exp(p[s] - m); p[s] = e; sum += e; }
  let inv = 1.0 / sum64(sum, l);
  let prow = (bh * u.T + t) * u.T;
  for (var s = l; s < u.T; s += 64u) {
    if (s <= t) { p[s] *= inv; P[prow + s] = p[s]; } else { P[prow + s] = 0.0; }
  }
  workgroupBarrier();
  let b = bh / u.H;
  let h = bh % u.H;
  for (var d = l; d < HD; d += 64u) {
    var acc = 0.0;
    for (var s = 0u; s <= t; s++) { acc = fma(p[s], V[base + s * HD + d], acc); }
    Y[((b * u.T + t) * u.H + h) * HD + d] = acc;
  }
}`,
  };
}

/**
 * Attention backward, per query row: dS[t, s] = P[t, s] (dP[t, s] - sum_s' P dP) with dP = dY[t]·V[s], and
 * dQ[t] = scale * dS[t] · K.
 */
export function attentionBackwardQuery(maxT: number, hd: number): KernelDef {
  return {
    name: `attentionBackwardQuery[T${maxT},hd${hd}]`,
    uniforms: ['T', 'H', 'scale:f'],
    buffers: [['K', 'r'], ['V:v4', 'r'], ['P', 'r'], ['dY', 'r'], ['dS', 'w'], ['dQ', 'w']],
    workgroupSize: [64, 1],
    code: /* wgsl */ `
${reduce64}
const HD = ${hd}u;
var<workgroup> dy: array<vec4<f32>, ${hd / 4}>;
var<workgroup> ds: array<f32, ${maxT}>;
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let t = wid.x;
  let bh = wid.y;
  let l = lid.x;
  let b = bh / u.H;
  let h = bh % u.H;
  let base = bh * u.T * HD;
  let prow = (bh * u.T + t) * u.T;
  for (var d = l; d < HD; d += 64u) { dy[d >> 2u][d & 3u] = dY[((b * u.T + t) * u.H + h) * HD + d]; }
  workgroupBarrier();
  var dsum = 0.0;
  for (var s = l; s <= t; s += 64u) {
    var dp = 0.0;
    let v4 = (base + s * HD) / 4u;
    for (var d = 0u; d < HD / 4u; d++) { dp += dot(dy[d], V[v4 + d]); }
    ds[s] = dp;
    dsum += dp * P[prow + s];
  }
  let tot = sum64(dsum, l);
  for (var s = l; s < u.T; s += 64u) {
    if (s <= t) { ds[s] = P[prow + s] * (ds[s] - tot); dS[prow + s] = ds[s]; } else { dS[prow + s] = 0.0; }
  }
  workgroupBarrier();
  for (var d = l; d < HD; d += 64u) {
    var acc = 0.0;
    for (var s = 0u; s <= t; s++) { acc = fma(ds[s], K[base + s * HD + d], acc); }
    dQ[base + t * HD + d] = acc * u.scale;
  }
}`,
  };
}

/** Attention backward, per key row s: dK[s] = scale * sum_{t>=s} dS[t, s] Q[t], dV[s] = sum_{t>=s} P[t, s] dY[t]. */
export function attentionBackwardKey(hd: number): KernelDef {
  return {
    name: `attentionBackwardKey[hd${hd}]`,
    uniforms: ['T', 'H', 'scale:f'],
    buffers: [['Q', 'r'], ['P', 'r'], ['dS', 'r'], ['dY', 'r'], ['dK', 'w'], ['dV', 'w']],
    workgroupSize: [64, 1],
    code: /* wgsl */ `
const HD = ${hd}u;
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let s = wid.x;
  let bh = wid.y;
  let b = bh / u.H;
  let h = bh % u.H;
  let base = bh * u.T * HD;
  for (var d = lid.x; d < HD; d += 64u) {
    var dk = 0.0;
    var dv = 0.0;
    for (var t = s; t < u.T; t++) {
      let i = (bh * u.T + t) * u.T + s;
      dk = fma(dS[i], Q[base + t * HD + d], dk);
      dv = fma(P[i], dY[((b * u.T + t) * u.H + h) * HD + d], dv);
    }
    dK[base + s * HD + d] = dk * u.scale;
    dV[base + s * HD + d] = dv;
  }
}`,
  };
}

/**
 * Weighted cross-entropy, forward and backward in one pass per row: L[n] = w_n (logsumexp - logit[target]) and
 * the logits overwritten by their gradient (softmax - onehot) * w_n / W, W = max(sum w, 1) as maskedCrossEntropy.
 */
export const crossEntropy: KernelDef = {
  name: 'crossEntropy',
  uniforms: ['N', 'V', 'W:f'],
  buffers: [['targets:i', 'r'], ['weights', 'r'], ['logits', 'w'], ['L', 'w']],
  workgroupSize: [64, 1],
  code: /* wgsl */ `
${reduce64}
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let n = wid.x + wid.y * 65535u;
  if (n >= u.N) { return; }
  let l = lid.x;
  let base = n * u.V;
  var mx = -3.4e38;
  for (var v = l; v < u.V; v += 64u) { mx = max(mx, logits[base + v]); }
  let m = max64(mx, l);
  var s = 0.0;
  for (var v = l; v < u.V; v += 64u) { s += exp(logits[base + v] - m); }
  let sum = sum64(s, l);
  let tgt = u32(targets[n]);
  let w = weights[n];
  if (l == 0u) { L[n] = w * (m + log(sum) - logits[base + tgt]); }
  workgroupBarrier();
  let k = w / u.W;
  for (var v = l; v < u.V; v += 64u) {
    let pv = exp(logits[base + v] - m) / sum;
    logits[base + v] = k * (pv - select(0.0, 1.0, v == tgt));
  }
}`,
};

/** Out[0] = sum(X[0..size)) * scale, one workgroup of 64 (the step's loss, the squared gradient norm's last stage). */
export const sumAll: KernelDef = {
  name: 'sumAll',
  uniforms: ['size', 'scale:f'],
  buffers: [['X', 'r'], ['Out', 'w']],
  workgroupSize: [64, 1],
  code: /* wgsl */ `
${reduce64}
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  var s = 0.0;
  for (var i = lid.x; i < u.size; i += 64u) { s += X[i]; }
  let t = sum64(s, lid.x);
  if (lid.x == 0u) { Out[0] = t * u.scale; }
}`,
};

/** Elements of G each workgroup squares and sums in the first stage of the gradient norm. */
export const NORM_CHUNK = 4096;

/** Partial sums of squares of the flat gradient: P[wg] = sum of G[wg*NORM_CHUNK ..][k]^2. */
export const squareSumPartial: KernelDef = {
  name: 'squareSumPartial',
  uniforms: ['size'],
  buffers: [['G', 'r'], ['P', 'w']],
  workgroupSize: [64, 1],
  code: /* wgsl */ `
${reduce64}
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let start = wid.x * ${NORM_CHUNK}u;
  let end = min(start + ${NORM_CHUNK}u, u.size);
  var s = 0.0;
  for (var i = start + lid.x; i < end; i += 64u) { let g = G[i]; s = fma(g, g, s); }
  let t = sum64(s, lid.x);
  if (lid.x == 0u) { P[wid.x] = t; }
}`,
};

/**
 * AdamW for one parameter, in place: g = G[off + i] * min(1, clip / (norm + 1e-6)); the same float32 arithmetic as
 * adamwStepReference (bias correction folded into stepSize, decoupled decay decay = lr * weightDecay).
 */
export const adamw: KernelDef = {
  name: 'adamw',
  uniforms: ['off', 'size', 'beta1:f', 'beta2:f', 'eps:f', 'stepSize:f', 'decay:f', 'clip:f'],
  buffers: [['G', 'r'], ['normSq', 'r'], ['param', 'w'], ['m', 'w'], ['s', 'w']],
  workgroupSize: [256, 1],
  code: /* wgsl */ `
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let i = flatIndex(gid);
  if (i >= u.size) { return; }
  let scale = min(1.0, u.clip / (sqrt(normSq[0]) + 1e-6));
  let g = G[u.off + i] * scale;
  let m1 = m[i] * u.beta1 + g * (1.0 - u.beta1);
  let s1 = s[i] * u.beta2 + g * g * (1.0 - u.beta2);
  var upd = m1 / (sqrt(s1) + u.eps) * u.stepSize;
  upd += param[i] * u.decay;
  param[i] = param[i] - upd;
  m[i] = m1;
  s[i] = s1;
}`,
};

/** The whole WGSL module of a kernel: its uniform struct, bindings, entry point. */
export function wgslSource(k: KernelDef): string {
  const fields = k.uniforms.map((f) => (f.endsWith(':f') ? `${f.slice(0, -2)}: f32,` : `${f}: u32,`)).join(' ');
  const bindings = k.buffers
    .map(([name, access], i) => {
      const [n, t] = name.endsWith(':i') ? [name.slice(0, -2), 'i32'] : name.endsWith(':v4') ? [name.slice(0, -3), 'vec4<f32>'] : [name, 'f32'];
      return `@group(0) @binding(${i + 1}) var<storage, ${access === 'r' ? 'read' : 'read_write'}> ${n}: array<${t}>;`;
    })
    .join('\n');
  return `struct Uniforms { ${fields} };
@group(0) @binding(0) var<uniform> u: Uniforms;
// a flat thread index over a dispatch that spills past 65535 workgroups into y (runner.ts flatGroups)
fn flatIndex(gid: vec3<u32>) -> u32 { return gid.x + gid.y * 65535u * 256u; }
${bindings}
${k.code}
@compute @workgroup_size(${k.workgroupSize[0]}, ${k.workgroupSize[1]})
fn entry(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
         @builtin(global_invocation_id) gid: vec3<u32>) {
  main(lid, wid, gid);
}`;
}

// ---------------------------------------------------------------------------------------------------------------
// decoding with a KV cache: n rows, Tq new tokens each, after `past` cached positions

/** X[i, :] = wte[ids[i], :] (+ wpe[pos[i], :]) for the new tokens; each row has its own positions (left padding). */
export function embedAt(learnedPos: boolean): KernelDef {
  return {
    name: `embedAt${learnedPos ? '[wpe]' : ''}`,
    uniforms: ['N', 'D'],
    buffers: [['ids:i', 'r'], ['pos:i', 'r'], ['wte', 'r'], ...(learnedPos ? [['wpe', 'r'] as [string, 'r']] : []), ['X', 'w']],
    workgroupSize: [256, 1],
    code: /* wgsl */ `
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let o = flatIndex(gid);
  if (o >= u.N * u.D) { return; }
  let i = o / u.D;
  let d = o % u.D;
  ${learnedPos ? 'X[o] = wte[u32(ids[i]) * u.D + d] + wpe[u32(pos[i]) * u.D + d];' : '_ = pos[0]; X[o] = wte[u32(ids[i]) * u.D + d];'}
}`,
  };
}

/**
 * Splits qkv [n*Tq, 3D] of the new tokens: Q [n, H, Tq, hd], and K, V into the cache [n, H, maxT, hd] at slots
 * past..past+Tq-1, rotating Q and K at each token's own position.
 */
export function qkvToCache(rope: boolean): KernelDef {
  return {
    name: `qkvToCache${rope ? '[rope]' : ''}`,
    uniforms: ['N', 'D', 'Tq', 'H', 'hd', 'past', 'maxT'],
    buffers: [['QKV', 'r'], ['pos:i', 'r'], ['cosT', 'r'], ['sinT', 'r'], ['Q', 'w'], ['Kc', 'w'], ['Vc', 'w']],
    workgroupSize: [256, 1],
    code: /* wgsl */ `
${ropeFns}
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let e = flatIndex(gid);
  if (e >= u.N * u.D) { return; }
  let n = e / u.D;
  let c = e % u.D;
  let r = n / u.Tq;
  let j = n % u.Tq;
  let h = c / u.hd;
  let i = c % u.hd;
  let row = n * 3u * u.D;
  var q = QKV[row + c];
  var k = QKV[row + u.D + c];
  ${rope ? /* wgsl */ `
  let t = u32(pos[n]);
  let p = h * u.hd + ropePartner(i, u.hd);
  let cs = cosT[t * u.hd + i];
  let sn = sinT[t * u.hd + i];
  q = ropeRotate(q, QKV[row + p], i, u.hd, cs, sn);
  k = ropeRotate(k, QKV[row + u.D + p], i, u.hd, cs, sn);` : '_ = pos[0]; _ = cosT[0] + sinT[0];'}
  Q[((r * u.H + h) * u.Tq + j) * u.hd + i] = q;
  let slot = ((r * u.H + h) * u.maxT + u.past + j) * u.hd + i;
  Kc[slot] = k;
  Vc[slot] = QKV[row + 2u * u.D + c];
}`,
  };
}

/**
 * Attention of the new tokens over the cache: query j of row r sees keys 0..past+j, except prompt positions
 * (< promptLen) whose keyMask is 0 (left padding). A query with no key to see (a padding position) gets zeros.
 */
export function attentionCached(maxT: number, hd: number): KernelDef {
  return {
    name: `attentionCached[T${maxT},hd${hd}]`,
    uniforms: ['Tq', 'H', 'past', 'maxT', 'promptLen', 'scale:f'],
    buffers: [['Q', 'r'], ['Kc:v4', 'r'], ['Vc', 'r'], ['keyMask', 'r'], ['Y', 'w']],
    workgroupSize: [64, 1],
    code: /* wgsl */ `
${reduce64}
const HD = ${hd}u;
var<workgroup> q: array<vec4<f32>, ${hd / 4}>;
var<workgroup> p: array<f32, ${maxT}>;
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let j = wid.x;
  let rh = wid.y;
  let r = rh / u.H;
  let h = rh % u.H;
  let l = lid.x;
  let last = u.past + j;
  let base = rh * u.maxT * HD;
  for (var d = l; d < HD; d += 64u) { q[d >> 2u][d & 3u] = Q[(rh * u.Tq + j) * HD + d]; }
  workgroupBarrier();
  var mx = -3.4e38;
  for (var s = l; s <= last; s += 64u) {
    var sc = -3.4e38;
    if (s >= u.promptLen || keyMask[r * u.maxT + s] > 0.0) {
      var qk = 0.0;
      let k4 = (base + s * HD) / 4u;
      for (var d = 0u; d < HD / 4u; d++) { qk += dot(q[d], Kc[k4 + d]); }
      sc = qk * u.scale;
    }
    p[s] = sc;
    mx = max(mx, sc);
  }
  let m = max64(mx, l);
  var sum = 0.0;
  for (var s = l; s <= last; s += 64u) {
    var e = 0.0;
    if (p[s] > -3.0e38) { e = exp(p[s] - m); }
    p[s] = e;
    sum += e;
  }
  let total = sum64(sum, l);
  let inv = select(0.0, 1.0 / total, total > 0.0);
  workgroupBarrier();
  for (var d = l; d < HD; d += 64u) {
    var acc = 0.0;
    for (var s = 0u; s <= last; s++) { acc = fma(p[s], Vc[base + s * HD + d], acc); }
    Y[((r * u.Tq + j) * u.H + h) * HD + d] = acc * inv;
  }
}`,
  };
}

/** Xl[r, :] = X[r*Tq + Tq - 1, :]: only each row's last position goes on to the logits. */
export const takeLast: KernelDef = {
  name: 'takeLast',
  uniforms: ['n', 'Tq', 'D'],
  buffers: [['X', 'r'], ['Xl', 'w']],
  workgroupSize: [256, 1],
  code: /* wgsl */ `
fn main(lid: vec3<u32>, wid: vec3<u32>, gid: vec3<u32>) {
  let o = flatIndex(gid);
  if (o >= u.n * u.D) { return; }
  let r = o / u.D;
  Xl[o] = X[(r * u.Tq + u.Tq - 1u) * u.D + o % u.D];
}`,
};
