// The tokenizer of a Hugging Face checkpoint (tokenizer.json, + tokenizer_config.json when there is one), through
// @huggingface/tokenizers (pure JS: byte-level BPE of GPT-2, SentencePiece-style BPE of Llama, ...). It has the
// shape the sampler and the trainer use for the character tokenizer.
import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer } from '@huggingface/tokenizers';

export class HFTokenizer {
  readonly kind = 'hf' as const;
  private readonly tok: Tokenizer;
  readonly vocabSize: number;
  /** Generation stops at this token (e.g. GPT-2's <|endoftext|>, Llama's </s>). */
  readonly eosId?: number;

  constructor(readonly json: Record<string, unknown>, readonly config: Record<string, unknown> = {}, vocabSize?: number) {
    this.tok = new Tokenizer(json, config);
    const vocab = ((json.model as { vocab?: Record<string, number> | [string, number][] } | undefined)?.vocab) ?? {};
    let max = -1;
    if (Array.isArray(vocab)) max = vocab.length - 1;
    else for (const id of Object.values(vocab)) if (id > max) max = id;
    for (const t of (json.added_tokens as { id: number }[] | undefined) ?? []) if (t.id > max) max = t.id;
    this.vocabSize = vocabSize ?? max + 1;
    const eos = typeof config.eos_token === 'string' ? config.eos_token : (config.eos_token as { content?: string } | undefined)?.content;
    this.eosId = eos !== undefined ? this.tok.token_to_id(eos) : undefined;
  }

  /** tokenizer.json (+ tokenizer_config.json) of a folder. */
  static fromDir(dir: string, vocabSize?: number): HFTokenizer {
    const file = path.join(dir, 'tokenizer.json');
    if (!fs.existsSync(file)) throw new Error(`${file}: not found (a Hugging Face checkpoint folder needs its tokenizer.json)`);
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    const cfgFile = path.join(dir, 'tokenizer_config.json');
    const config = fs.existsSync(cfgFile) ? JSON.parse(fs.readFileSync(cfgFile, 'utf8')) : {};
    return new HFTokenizer(json, config, vocabSize);
  }

  /** Token ids, with the special tokens the tokenizer's post-processor adds (Llama's BOS; none for GPT-2). */
  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: true }).ids;
  }

  decode(ids: Iterable<number>): string {
    return this.tok.decode([...ids], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  decodeOne(id: number): string {
    return this.decode([id]);
  }

  /** Written beside the weights: model.json names it, the files themselves are copied. */
  toJSON() {
    return { type: 'hf' as const, file: 'tokenizer.json' };
  }

  saveTo(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(this.json));
    if (Object.keys(this.config).length) fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(this.config));
  }
}

/** What the sampler and the trainer need of a tokenizer (the character tokenizer has it too). */
export interface TextTokenizer {
  readonly vocabSize: number;
  readonly eosId?: number;
  encode(text: string): number[];
  decode(ids: Iterable<number>): string;
  decodeOne(id: number): string;
}
