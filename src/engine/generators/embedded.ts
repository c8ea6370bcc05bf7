// Generation with the embedded tfjs GPT loaded from a checkpoint folder.
import { loadCheckpoint } from '../model/checkpoint';
import type { CausalLM } from '../model/gpt';
import { sample } from '../model/sample';
import type { HFTokenizer } from '../model/hfTokenizer';
import { CharTokenizer } from '../model/tokenizer';
import { hashSeed } from '../random';
import { GenerateOptions, Generator } from './generator';

export class EmbeddedGenerator implements Generator {
  /** What decodes (fused WebGPU kernels or tfjs ops) is said once, not at every call. */
  private said = false;

  private constructor(
    private readonly model: CausalLM, private readonly tokenizer: CharTokenizer | HFTokenizer, private readonly batchSize: number,
    private readonly log?: (message: string) => void,
  ) {}

  static open(modelDir: string, batchSize = 256, log?: (message: string) => void): EmbeddedGenerator {
    const { model, tokenizer } = loadCheckpoint(modelDir);
    return new EmbeddedGenerator(model, tokenizer, batchSize, log);
  }

  async generate(prompts: string[], opts: GenerateOptions): Promise<string[][]> {
    // k samples of a prompt become k rows with their own seeds; greedy decoding needs only one.
    const k = opts.temperature > 0 ? opts.k : 1;
    const rows: string[] = [];
    const seeds: number[] = [];
    const budgets: number[] = [];
    prompts.forEach((p, i) => {
      const budget = typeof opts.maxNewTokens === 'number' ? opts.maxNewTokens : opts.maxNewTokens[i];
      for (let j = 0; j < k; j++) { rows.push(p); seeds.push(hashSeed(opts.seeds[i], j)); budgets.push(budget); }
    });
    const texts = await sample(this.model, this.tokenizer, rows, {
      maxNewTokens: budgets,
      temperature: opts.temperature,
      topK: opts.topK,
      stop: opts.stop,
      seeds,
      batchSize: this.batchSize,
      signal: opts.signal,
      onBatch: (done) => opts.onProgress?.(Math.floor(done / k), prompts.length),
      log: this.said ? undefined : (m) => { this.said = true; this.log?.(m); },
    });
    return prompts.map((_, i) => {
      const mine = texts.slice(i * k, (i + 1) * k);
      // greedy: the same completion k times, so counts over samples stay meaningful
      while (mine.length < opts.k) mine.push(mine[0]);
      return mine;
    });
  }

  dispose(): void {
    this.model.dispose();
  }
}
