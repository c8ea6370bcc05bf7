/// <reference types="@webgpu/types" />
// What the fused GPT training step (gptStep.ts) and decoder (gptDecode.ts) share: which models they take, the
// rotary tables on the GPU, and the matmul and LayerNorm ops both build.
import * as tf from '@tensorflow/tfjs-core';
import { GPT, GPTConfig, ropeTableValues } from '../../model/gpt';
import * as K from './kernels';
import { KernelRunner, Op, rowGroups } from './runner';

/** Why neither fused path can run this model here, or null when the checks of its own remain. */
export function gptUnsupported(model: unknown): string | null {
  if (!(model instanceof GPT)) return 'not the embedded GPT';
  if (tf.getBackend() !== 'webgpu') return 'backend is not webgpu';
  const hd = model.config.nEmbd / model.config.nHead;
  if (hd > 256 || hd % 4 !== 0) return `head size ${hd} (the kernels read heads four floats at a time)`;
  return null;
}

/** The model's rotary cos and sin tables [blockSize, hd] in GPU buffers (unread with learned positions). */
export function ropeTables<C>(r: KernelRunner<C>, config: GPTConfig): { cos: GPUBuffer; sin: GPUBuffer } {
  const { cos, sin } = ropeTableValues(config.nEmbd / config.nHead, config.blockSize);
  return { cos: r.upload(cos), sin: r.upload(sin) };
}

const PLAIN: K.MatmulVariant = { transA: false, transB: false, bias: false, geluA: false, resid: false, dropout: false, geluGradOut: false };

/**
 * C[M, N] = op(A) · op(B) with the variant's epilogue; dims(c) = [M, N, K]. `dropout(c)` = [seed, site, keep] for
 * a variant with dropout.
 */
export function matmulOp<C>(
  v: Partial<K.MatmulVariant>, bind: Op<C>['bind'], dims: (c: C) => [number, number, number],
  dropout: (c: C) => [number, number, number] = () => [0, 0, 1],
): Op<C> {
  return {
    kernel: K.matmul({ ...PLAIN, ...v }),
    bind,
    uniforms: (c) => { const d = dims(c); return [...d, ...dropout(c), d[2]]; },
    groups: (c) => { const [M, N] = dims(c); return [Math.ceil(N / 64), Math.ceil(M / 64)]; },
  };
}

/** LayerNorm of rows(c) rows of D with the model's parameters `name`.weight and .bias, saving mean and 1/std. */
export function layerNormOp<C>(
  param: (name: string) => GPUBuffer, name: string, X: GPUBuffer, Y: GPUBuffer, mean: GPUBuffer, rstd: GPUBuffer,
  D: number, rows: (c: C) => number,
): Op<C> {
  return {
    kernel: K.layerNormForward,
    bind: [X, param(name + '.weight'), param(name + '.bias'), Y, mean, rstd],
    uniforms: (c) => [rows(c), D, 1e-5],
    groups: (c) => rowGroups(rows(c)),
  };
}
