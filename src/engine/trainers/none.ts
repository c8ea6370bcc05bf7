// The `none` trainer: generate and curate only. M(n) is M0 again, so every iteration generates with the base model
// (for a served model: the same name; for the embedded one: a copy of the base checkpoint).
import * as fs from 'fs';
import * as path from 'path';
import { readRemoteModel, writeRemoteModel } from '../generators/openai';
import { TrainJob, Trainer } from './trainer';

export class NoneTrainer implements Trainer {
  async train(job: TrainJob): Promise<{ loss: number | null; steps: number }> {
    const remote = readRemoteModel(job.baseDir);
    if (remote) writeRemoteModel(job.outDir, { ...remote, source: 'trainer-none' });
    else {
      fs.mkdirSync(job.outDir, { recursive: true });
      // model.json last: its presence (with the weights) marks the model written
      for (const f of ['model.safetensors', 'tokenizer.json', 'model.json'])
        if (fs.existsSync(path.join(job.baseDir, f))) fs.copyFileSync(path.join(job.baseDir, f), path.join(job.outDir, f));
    }
    return { loss: null, steps: 0 };
  }
}
