// Generation on any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, OpenAI) through the official client:
// completions or chat, k samples per prompt (`n`), stop sequences, bounded concurrency, retries with backoff on
// 408/409/429/5xx, timeouts and dropped connections, cancellation, token usage and cost. Every answer is cached on
// disk, keyed by a hash of the request, so nothing already answered is asked again.
import * as fs from 'fs';
import * as path from 'path';
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type { ModelSpec, UsageCounters } from '../store/format';
import { writeJsonAtomic } from '../store/jsonl';
import { openaiModelDefaults } from '../project';
import { cacheKey, RequestCache } from './cache';
import { ChatTurn, emptyUsage, GenerateOptions, Generator } from './generator';

/** iter-<n>/model.json of a served model: which model generates for this iteration. */
export interface RemoteModelJson {
  architecture: 'remote';
  backend: 'openai';
  /** The served model name (a vLLM LoRA adapter name, a new model name...). */
  model: string;
  /** Changes whenever the weights behind `model` may have changed: part of every cache key. */
  revision: string;
  /** How it was made: the base model, or the trainer that wrote it. */
  source: 'base' | 'trainer-none' | 'trainer-command';
}

export function writeRemoteModel(dir: string, m: RemoteModelJson): void {
  fs.mkdirSync(dir, { recursive: true });
  writeJsonAtomic(path.join(dir, 'model.json'), m);
}

export function readRemoteModel(dir: string): RemoteModelJson | undefined {
  const f = path.join(dir, 'model.json');
  if (!fs.existsSync(f)) return undefined;
  const j = JSON.parse(fs.readFileSync(f, 'utf8')) as RemoteModelJson;
  return j.architecture === 'remote' ? j : undefined;
}

/** The resolved openai settings of a model spec (defaults for what star.json left out). */
export type OpenAISettings = ReturnType<typeof openaiModelDefaults>;
export function openaiSettings(spec: ModelSpec): OpenAISettings {
  const d = openaiModelDefaults();
  const out = { ...d } as Record<string, unknown>;
  for (const k of Object.keys(d)) if ((spec as unknown as Record<string, unknown>)[k] !== undefined) out[k] = (spec as unknown as Record<string, unknown>)[k];
  return out as OpenAISettings;
}

/** The API key: given by the caller (the extension's SecretStorage), else from the environment variable named in star.json. */
export function resolveApiKey(s: OpenAISettings, given?: string): string {
  if (given) return given;
  if (!s.apiKeyEnv) return 'EMPTY'; // servers without a key (vLLM's default) accept any
  const v = process.env[s.apiKeyEnv];
  if (!v) throw new Error(`the API key for ${s.baseUrl} is read from the environment variable ${s.apiKeyEnv}, which is not set (set it, or set "model.apiKeyEnv" to "" for a server without a key)`);
  return v;
}

interface CachedAnswer {
  texts: string[];
  promptTokens: number;
  completionTokens: number;
}

export interface OpenAIGeneratorOptions {
  settings: OpenAISettings;
  /** The served model and its revision (from the iteration's model.json). */
  model: string;
  revision: string;
  apiKey: string;
  /** Folder of the request cache; none = no cache. */
  cacheDir?: string;
  /** Called after each retry, for the run's log. */
  onRetry?: (message: string) => void;
}

const RETRYABLE = new Set([408, 409, 429, 500, 502, 503, 504]);

export class OpenAIGenerator implements Generator {
  private readonly client: OpenAI;
  private readonly cache?: RequestCache<CachedAnswer>;
  private usage = emptyUsage();

  constructor(private readonly o: OpenAIGeneratorOptions) {
    this.client = new OpenAI({
      baseURL: o.settings.baseUrl,
      apiKey: o.apiKey,
      maxRetries: 0, // retried here, to count retries and honour the run's stop
      timeout: o.settings.timeoutSeconds * 1000,
    });
    if (o.cacheDir) this.cache = new RequestCache<CachedAnswer>(o.cacheDir);
  }

  takeUsage(): UsageCounters {
    const u = this.usage;
    this.usage = emptyUsage();
    return u;
  }

  dispose(): void {}

  async generate(prompts: string[], opts: GenerateOptions): Promise<string[][]> {
    const s = this.o.settings;
    // greedy decoding gives one answer: ask once and repeat it, so counts over samples stay meaningful
    const k = opts.temperature > 0 ? opts.k : 1;
    const out = new Array<string[]>(prompts.length);
    let done = 0;
    const one = async (i: number) => {
      const budget = typeof opts.maxNewTokens === 'number' ? opts.maxNewTokens : opts.maxNewTokens[i];
      const body = this.body(prompts[i], opts.turns?.[i], opts, budget, k, opts.seeds[i]);
      const key = cacheKey({ api: s.api, model: this.o.model, revision: this.o.revision, body });
      let ans = this.cache?.get(key);
      this.usage.requests++;
      if (ans) this.usage.cached++;
      else {
        ans = await this.ask(body, k, opts.signal);
        this.usage.promptTokens += ans.promptTokens;
        this.usage.completionTokens += ans.completionTokens;
        this.usage.cost += (ans.promptTokens * s.pricing.promptPerMillion + ans.completionTokens * s.pricing.completionPerMillion) / 1e6;
        this.cache?.put(key, { api: s.api, model: this.o.model, revision: this.o.revision, body }, ans);
      }
      const texts = ans.texts.map((t) => cutAtStop(t, opts.stop));
      while (texts.length < opts.k) texts.push(texts[0]);
      out[i] = texts.slice(0, opts.k);
      opts.onProgress?.(++done, prompts.length);
    };
    await pool(prompts.length, Math.max(1, s.concurrency), one, opts.signal);
    return out;
  }

  /** The request body: everything that decides the answer, and so the cache key. */
  private body(prompt: string, turns: ChatTurn[] | undefined, opts: GenerateOptions, maxTokens: number, n: number, seed: number): Record<string, unknown> {
    const s = this.o.settings;
    const b: Record<string, unknown> = {
      model: this.o.model,
      n,
      max_tokens: maxTokens,
      temperature: opts.temperature,
      stop: opts.stop.filter((x) => x).slice(0, 4),
    };
    if (opts.temperature > 0) b.seed = seed; // greedy answers do not depend on a seed: leave it out of the key too
    if (opts.topK > 0) b.top_k = opts.topK; // vLLM's extension of the API
    if (s.api === 'chat') {
      const messages: ChatTurn[] = [];
      if (s.system) messages.push({ role: 'system', content: s.system });
      messages.push(...(turns ?? [{ role: 'user', content: prompt }]));
      b.messages = messages;
    } else b.prompt = prompt;
    return b;
  }

  /** One answer of n samples, with retries; servers that ignore `n` (llama.cpp) are asked again for the rest. */
  private async ask(body: Record<string, unknown>, n: number, signal?: AbortSignal): Promise<CachedAnswer> {
    const ans: CachedAnswer = { texts: [], promptTokens: 0, completionTokens: 0 };
    for (let round = 0; ans.texts.length < n && round < n; round++) {
      const want = n - ans.texts.length;
      const b = { ...body, n: want, ...(body.seed !== undefined && round > 0 ? { seed: (body.seed as number) + round } : {}) };
      const r = await this.withRetries(() => this.send(b, signal), signal);
      ans.texts.push(...r.texts.slice(0, want));
      ans.promptTokens += r.promptTokens;
      ans.completionTokens += r.completionTokens;
    }
    if (ans.texts.length === 0) throw new Error(`${this.o.settings.baseUrl}: the server answered no choices for model ${this.o.model}`);
    return ans;
  }

  private async send(body: Record<string, unknown>, signal?: AbortSignal): Promise<CachedAnswer> {
    if (this.o.settings.api === 'chat') {
      const r = await this.client.chat.completions.create(body as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, { signal });
      const choices = [...r.choices].sort((a, b) => a.index - b.index);
      return { texts: choices.map((c) => c.message?.content ?? ''), promptTokens: r.usage?.prompt_tokens ?? 0, completionTokens: r.usage?.completion_tokens ?? 0 };
    }
    const r = await this.client.completions.create(body as unknown as OpenAI.CompletionCreateParamsNonStreaming, { signal });
    const choices = [...r.choices].sort((a, b) => a.index - b.index);
    return { texts: choices.map((c) => c.text ?? ''), promptTokens: r.usage?.prompt_tokens ?? 0, completionTokens: r.usage?.completion_tokens ?? 0 };
  }

  private async withRetries<T>(f: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const s = this.o.settings;
    for (let attempt = 0; ; attempt++) {
      try {
        return await f();
      } catch (e) {
        if (signal?.aborted || e instanceof APIUserAbortError) throw e;
        const retryable = e instanceof APIConnectionError || isNetworkError(e) || (e instanceof APIError && e.status !== undefined && (RETRYABLE.has(e.status) || e.status >= 500));
        if (!retryable || attempt >= s.maxRetries) {
          if (e instanceof APIError) throw new Error(`${s.baseUrl} (model ${this.o.model}): ${e.message}${retryable ? ` — gave up after ${attempt} retries` : ''}`);
          throw e;
        }
        this.usage.retries++;
        const after = retryAfterMs(e);
        const wait = after ?? Math.min(30_000, s.retryBaseSeconds * 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
        this.o.onRetry?.(`${s.baseUrl}: ${(e as Error).message}; retry ${attempt + 1}/${s.maxRetries} in ${(wait / 1000).toFixed(1)} s`);
        await sleep(wait, signal);
      }
    }
  }
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** A connection dropped while the body was being read: fetch throws a plain TypeError ("terminated") then. */
function isNetworkError(e: unknown): boolean {
  const err = e as { message?: string; code?: string; cause?: { code?: string } };
  if (!err || typeof err !== 'object') return false;
  if (NETWORK_CODES.has(err.code ?? '') || NETWORK_CODES.has(err.cause?.code ?? '')) return true;
  return e instanceof TypeError && /terminated|fetch failed|socket|network/i.test(err.message ?? '');
}

function retryAfterMs(e: unknown): number | undefined {
  if (!(e instanceof APIError) || !e.headers) return undefined;
  const h = (e.headers as Headers).get?.('retry-after-ms') ?? undefined;
  if (h && Number.isFinite(Number(h))) return Number(h);
  const s = (e.headers as Headers).get?.('retry-after');
  if (s && Number.isFinite(Number(s))) return Math.min(60_000, Number(s) * 1000);
  return undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new APIUserAbortError());
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(new APIUserAbortError()); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs f(0..n-1) with at most `limit` in flight; the first failure stops new starts and is thrown once all settle. */
export async function pool(n: number, limit: number, f: (i: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < n && !signal?.aborted) {
      const i = next++;
      try {
        await f(i);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  if (failure !== undefined) throw failure;
  if (signal?.aborted) throw new APIUserAbortError();
}

function cutAtStop(text: string, stop: string[]): string {
  let end = text.length;
  for (const s of stop) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && i < end) end = i;
  }
  return text.slice(0, end);
}
