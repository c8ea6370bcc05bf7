// One interface for whatever writes rationales: the embedded model, or a remote OpenAI-compatible server.
import type { UsageCounters } from '../store/format';

/** One chat turn, for generators that speak in messages (the few-shot exemplars become user/assistant pairs). */
export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface GenerateOptions {
  /** Samples per prompt. */
  k: number;
  temperature: number;
  topK: number;
  /** One limit, or one per prompt. */
  maxNewTokens: number | number[];
  stop: string[];
  /** One seed per prompt; sample j of prompt i is drawn from a seed derived from seeds[i] and j. */
  seeds: number[];
  onProgress?: (done: number, total: number) => void;
  /** The same prompts as chat turns (few-shot pairs, then the question); used by chat generators only. */
  turns?: ChatTurn[][];
  /** Cancels requests in flight (the run's stop). */
  signal?: AbortSignal;
}

export interface Generator {
  /** k completions for each prompt (stop sequence cut off), in prompt order. */
  generate(prompts: string[], opts: GenerateOptions): Promise<string[][]>;
  /** Requests, cache reuse and tokens since the last call (and resets them); absent = no requests (embedded). */
  takeUsage?(): UsageCounters;
  dispose(): void;
}

export function emptyUsage(): UsageCounters {
  return { requests: 0, cached: 0, retries: 0, promptTokens: 0, completionTokens: 0, cost: 0 };
}

export function addUsage(a: UsageCounters, b: UsageCounters): UsageCounters {
  return {
    requests: a.requests + b.requests,
    cached: a.cached + b.cached,
    retries: a.retries + b.retries,
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    cost: a.cost + b.cost,
  };
}
