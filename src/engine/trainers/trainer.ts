// One interface for fine-tuning: the embedded tfjs trainer now; a command-line trainer or none later.
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
}

export interface Trainer {
  train(job: TrainJob): Promise<{ loss: number | null; steps: number }>;
}
