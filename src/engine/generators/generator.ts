// One interface for whatever writes rationales: the embedded model, or (later) a remote OpenAI-compatible server.

export interface GenerateOptions {
  /** Samples per prompt. */
  k: number;
  temperature: number;
  topK: number;
  maxNewTokens: number;
  stop: string[];
  /** One seed per prompt; sample j of prompt i is drawn from a seed derived from seeds[i] and j. */
  seeds: number[];
  onProgress?: (done: number, total: number) => void;
}

export interface Generator {
  /** k completions for each prompt (stop sequence cut off), in prompt order. */
  generate(prompts: string[], opts: GenerateOptions): Promise<string[][]>;
  dispose(): void;
}
