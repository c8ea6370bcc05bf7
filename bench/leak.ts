import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/engine/compute/backend';
import { GPT } from '../src/engine/model/gpt';
import { sample } from '../src/engine/model/sample';
import { CharTokenizer } from '../src/engine/model/tokenizer';
import { train } from '../src/engine/model/train';
(async () => {
  await selectBackend('wasm');
  const tok = CharTokenizer.fromTexts(['0123456789+:>|c\nTarget']);
  const model = new GPT({ vocabSize: tok.vocabSize, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 64, dropout: 0.1, pos: 'rope' });
  console.log('after model', tf.memory().numTensors);
  train(model, tok, [{ prompt: '1+2:', completion: '1+2=3c0|>3\n' }], { steps: 2, batchSize: 4, lr: 1e-3, warmupFraction: 0.1, weightDecay: 0.1, gradClip: 1, seed: 0 });
  console.log('after train', tf.memory().numTensors);
  sample(model, tok, ['1+2:', '11+22:'], { maxNewTokens: 5, temperature: 0, topK: 0, stop: ['\n'] });
  console.log('after sample', tf.memory().numTensors);
  sample(model, tok, ['1+2:', '11+22:'], { maxNewTokens: 5, temperature: 0.7, topK: 5, stop: ['\n'] });
  console.log('after sample2', tf.memory().numTensors);
})();
