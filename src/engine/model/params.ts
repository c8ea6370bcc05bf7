// Declaring a model's parameters: each one taken from a checkpoint (its shape checked) or freshly initialised.
import * as tf from '@tensorflow/tfjs-core';

export type Init = 'normal' | 'zeros' | 'ones';

let nextModelId = 0;

/**
 * Returns `add(name, shape, init, std)`, which puts a trainable variable under `name` into `params`. tfjs variable
 * names are global, so each model gets its own scope: several models (base, fine-tuned) may live in one process.
 */
export function paramDeclarer(params: Map<string, tf.Variable>, kind: string, weights: Map<string, tf.Tensor> | undefined, seed: number) {
  let s = seed * 1000 + 1;
  const scope = `${kind}${nextModelId++}/`;
  return (name: string, shape: number[], init: Init, std = 0.02) => {
    const given = weights?.get(name);
    if (weights && !given) throw new Error(`checkpoint has no tensor "${name}"`);
    if (given && given.shape.join() !== shape.join())
      throw new Error(`checkpoint tensor "${name}" has shape [${given.shape}], expected [${shape}]`);
    const value = given ?? (init === 'zeros' ? tf.zeros(shape) : init === 'ones' ? tf.ones(shape) : tf.randomNormal(shape, 0, std, 'float32', s++));
    params.set(name, tf.variable(value, true, scope + name));
    if (!given) value.dispose();
  };
}
