// Character-level tokenizer: the built-in tasks need no more, and its vocabulary is built only from the task's text.

export const PAD = 0;
export const UNK = 1;
const SPECIALS = ['<pad>', '<unk>'];

export class CharTokenizer {
  private readonly index: Map<string, number>;

  constructor(readonly chars: string[]) {
    this.index = new Map(chars.map((c, i) => [c, i + SPECIALS.length]));
  }

  /** A vocabulary holding every character of the given texts (sorted, so the same texts give the same ids). */
  static fromTexts(texts: Iterable<string>): CharTokenizer {
    const set = new Set<string>();
    for (const t of texts) for (const c of t) set.add(c);
    return new CharTokenizer([...set].sort());
  }

  get vocabSize(): number {
    return this.chars.length + SPECIALS.length;
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    for (const c of text) ids.push(this.index.get(c) ?? UNK);
    return ids;
  }

  decode(ids: Iterable<number>): string {
    let s = '';
    for (const id of ids) if (id >= SPECIALS.length) s += this.chars[id - SPECIALS.length];
    return s;
  }

  decodeOne(id: number): string {
    return id >= SPECIALS.length ? this.chars[id - SPECIALS.length] : '';
  }

  toJSON() {
    return { type: 'char' as const, chars: this.chars };
  }
}
