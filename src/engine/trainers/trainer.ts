// One interface for fine-tuning: the embedded tfjs trainer, a user's command (trainers/command.ts), or none.
import type { TrainExample } from '../store/format';

export interface TrainJob {
  /** Folder of the ORIGINAL base model M: every iteration starts from it, as the paper does. */
  baseDir: string;
  /** Where M(n) is written. */
  outDir: string;
  examples: TrainExample[];
  steps: number;
  seed: number;
  onProgress?: (step: number, steps: number, loss: number) => void;
  shouldStop?: () => boolean;
  /** For trainers that run outside the process (command): where they are and what to call the result. */
  iteration?: number;
  runId?: string;
  projectDir?: string;
  /** The iteration's train.jsonl, already written. */
  trainFile?: string;
  /** Lines for the run's log (e.g. the command being run). */
  log?: (message: string) => void;
}

export interface Trainer {
  train(job: TrainJob): Promise<{ loss: number | null; steps: number }>;
}
