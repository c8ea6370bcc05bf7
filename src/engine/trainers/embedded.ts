// Fine-tunes the embedded GPT from the base checkpoint and writes the result as a checkpoint.
import { loadCheckpoint, saveModel } from '../model/checkpoint';
import { clearTrainState, train } from '../model/train';
import type { TrainSpec } from '../store/format';
import { TrainJob, Trainer } from './trainer';

export class EmbeddedTrainer implements Trainer {
  constructor(private readonly spec: TrainSpec) {}

  async train(job: TrainJob): Promise<{ loss: number | null; steps: number }> {
    const { model, tokenizer } = loadCheckpoint(job.baseDir);
    try {
      const r = await train(model, tokenizer, job.examples, {
        steps: job.steps,
        batchSize: this.spec.batchSize,
        lr: this.spec.lr,
        warmupFraction: this.spec.warmupFraction,
        weightDecay: this.spec.weightDecay,
        gradClip: this.spec.gradClip,
        seed: job.seed,
        stateDir: job.outDir,
        onStep: (step, loss) => job.onProgress?.(step, job.steps, loss),
        shouldStop: job.shouldStop,
        log: job.log,
      });
      await saveModel(job.outDir, model, tokenizer);
      clearTrainState(job.outDir);
      return r;
    } finally {
      model.dispose();
    }
  }
}
