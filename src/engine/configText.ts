// star.json as written: where each setting is (its line, found by its path, not by the first key of that name
// anywhere) and how its value reads, so an error points at the right line and quotes what is there.
// the ES module build: esbuild cannot bundle the UMD one (its require calls are computed)
import { findNodeAtLocation, Node, parseTree } from 'jsonc-parser/lib/esm/main.js';

/** A setting's place in star.json: its keys from the top, e.g. ["training", "schedule", "kind"]. */
export type ConfigPath = string[];

/** A star.json problem at a line. */
export interface ConfigProblem {
  line: number;
  message: string;
}

export const pathName = (p: ConfigPath): string => p.join('.');

export class ConfigText {
  private readonly root: Node | undefined;

  /** `text` is JSON that JSON.parse accepted. */
  constructor(readonly text: string) {
    this.root = parseTree(text, [], { disallowComments: true, allowTrailingComma: false });
  }

  /** The line of the setting's key, else of the nearest enclosing setting that is there (1 for the top). */
  lineOf(path: ConfigPath): number {
    for (let n = path.length; n > 0; n--) {
      const node = this.node(path.slice(0, n));
      if (node) return this.lineAt(node.parent?.type === 'property' ? node.parent.offset : node.offset);
    }
    return 1;
  }

  /** The value as written ("1e999", "\"x\""), or what it is where that would be long; undefined where absent. */
  source(path: ConfigPath): string | undefined {
    const node = this.node(path);
    if (!node) return undefined;
    const written = this.text.slice(node.offset, node.offset + node.length).replace(/\s+/g, ' ');
    if (written.length <= 40) return written;
    return node.type === 'object' ? 'an object' : node.type === 'array' ? 'an array' : `${written.slice(0, 37)}...`;
  }

  /** Keys given twice in one object: JSON.parse keeps the last silently. */
  duplicateKeys(): ConfigProblem[] {
    const out: ConfigProblem[] = [];
    const visit = (node: Node, path: ConfigPath) => {
      if (node.type === 'array') node.children?.forEach((c, i) => visit(c, [...path, String(i)]));
      if (node.type !== 'object') return;
      const first = new Map<string, number>();
      for (const prop of node.children ?? []) {
        const [key, value] = prop.children ?? [];
        if (!key || typeof key.value !== 'string') continue;
        const line = this.lineAt(prop.offset);
        const seen = first.get(key.value);
        const name = pathName([...path, key.value]);
        const twice = `"${name}" is set twice (first on line ${seen}): JSON keeps only the last; remove one`;
        if (seen !== undefined) out.push({ line, message: twice });
        else first.set(key.value, line);
        if (value) visit(value, [...path, key.value]);
      }
    };
    if (this.root) visit(this.root, []);
    return out;
  }

  private node(path: ConfigPath): Node | undefined {
    return this.root && (path.length === 0 ? this.root : findNodeAtLocation(this.root, path));
  }

  private lineAt(offset: number): number {
    let line = 1;
    for (let i = 0; i < offset; i++) if (this.text.charCodeAt(i) === 10) line++;
    return line;
  }
}
