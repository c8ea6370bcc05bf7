// A content-addressed cache of generation requests: <project>/.star/cache/<kind>/<ab>/<sha256>.json.
// The key is a hash of everything that decides the answer (endpoint kind, model and its revision, prompt or messages,
// sampling parameters, seed), so a killed run or a rerun after editing one exemplar of P sends only the requests
// whose prompt changed. Entries are written atomically (temp file, fsync, rename): a kill never leaves half of one.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { writeJsonAtomic } from '../store/jsonl';

export const CACHE_DIR = '.star/cache';

/** A stable JSON text: object keys sorted at every level, so the same request always hashes the same. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

export function cacheKey(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

export interface CacheEntry<T> {
  key: string;
  request: unknown;
  response: T;
  time: string;
}

export class RequestCache<T> {
  constructor(readonly dir: string) {}

  /** The cache of a project folder, one sub-folder per kind of request. */
  static forProject<T>(projectDir: string, kind: string): RequestCache<T> {
    return new RequestCache<T>(path.join(projectDir, CACHE_DIR, kind));
  }

  private file(key: string): string {
    return path.join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  get(key: string): T | undefined {
    const f = this.file(key);
    try {
      const e = JSON.parse(fs.readFileSync(f, 'utf8')) as CacheEntry<T>;
      return e.key === key ? e.response : undefined;
    } catch {
      return undefined; // absent, or unreadable: asked again and rewritten
    }
  }

  put(key: string, request: unknown, response: T): void {
    const f = this.file(key);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    const e: CacheEntry<T> = { key, request, response, time: new Date().toISOString() };
    writeJsonAtomic(f, e);
  }
}
