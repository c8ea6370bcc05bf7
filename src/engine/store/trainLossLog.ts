// The training loss of one iteration, step by step, for the report's loss curves. Lines are buffered and appended a
// few times a second: a kill loses at most the last ones, and those steps are trained again anyway, since training
// resumes from its last checkpoint. A step at or below the last one logged is such a replay (or a restart from
// scratch): the lines from that step on are cut first, so each step is in the file once.
import * as fs from 'fs';
import { appendJsonl, readAppendLog, writeFileAtomic } from './jsonl';
import type { TrainLossLine } from './format';

export class TrainLossLog {
  private pending: TrainLossLine[] = [];
  private last: number;
  private flushedAt = Date.now();

  constructor(private readonly file: string, private readonly everyMs = 1000) {
    this.last = readAppendLog<TrainLossLine>(file, true).at(-1)?.step ?? 0;
  }

  add(step: number, loss: number): void {
    if (step <= this.last) this.cutFrom(step);
    this.pending.push({ step, loss: Number.isFinite(loss) ? loss : null });
    this.last = step;
    if (Date.now() - this.flushedAt >= this.everyMs) this.flush();
  }

  flush(): void {
    appendJsonl(this.file, this.pending.splice(0));
    this.flushedAt = Date.now();
  }

  private cutFrom(step: number): void {
    this.flush();
    const keep = readAppendLog<TrainLossLine>(this.file).filter((l) => l.step < step);
    if (fs.existsSync(this.file)) writeFileAtomic(this.file, keep.map((l) => JSON.stringify(l) + '\n').join(''));
  }
}
