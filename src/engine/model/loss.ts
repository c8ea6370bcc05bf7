// The training loss every model shares: cross-entropy on the positions that count.
import * as tf from '@tensorflow/tfjs-core';

/** Mean cross-entropy of logits [B, T, V] over the positions whose weight is 1 (the completion, not prompt or padding). */
export function maskedCrossEntropy(logits: tf.Tensor, targets: tf.Tensor2D, weights: tf.Tensor2D, V: number): tf.Scalar {
  const n = targets.shape[0] * targets.shape[1];
  const logp = tf.logSoftmax(tf.reshape(logits, [n, V]));
  const nll = tf.neg(tf.sum(tf.mul(logp, tf.oneHot(tf.reshape(targets, [n]), V)), -1));
  const w = tf.reshape(weights, [n]);
  return tf.div(tf.sum(tf.mul(nll, w)), tf.maximum(tf.sum(w), 1)) as tf.Scalar;
}
