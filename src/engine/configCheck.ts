// star.json checked: every value against the schema (configSchema.ts, by ajv), each refusal said with the line of
// its key and the values allowed; then what no one value's schema can say (nEmbd a multiple of nHead, a trainer the
// backend can use, a schedule that trains in every iteration).
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { allowedValues, MAX_ITERATION_STEPS, Schema, STAR_SCHEMA } from './configSchema';
import { ConfigPath, ConfigProblem, ConfigText, pathName } from './configText';
import { trainSteps } from './schedule';
import type { ProjectConfig } from './store/format';

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    // strictNumbers: JSON.parse reads 1e999 as Infinity, which must not pass as a number. The validator checks one
    // small file once: unoptimised code compiles in two thirds of the time (about 100 ms on 2 cores, not 150)
    const ajv = new Ajv({
      allErrors: true, verbose: true, strictNumbers: true, discriminator: true, code: { optimize: false },
    });
    // VS Code's own keywords: words for the editor, nothing to check
    ajv.addVocabulary(['enumDescriptions', 'patternErrorMessage', 'errorMessage']);
    compiled = ajv.compile(STAR_SCHEMA);
  }
  return compiled;
}

/** What the schema refuses in star.json (`raw`, parsed from `src`), in the order of the file. */
export function schemaProblems(raw: unknown, src: ConfigText): ConfigProblem[] {
  const validate = validator();
  if (validate(raw)) return [];
  const found = (validate.errors ?? []).map((e) => problemOf(e, src))
    .filter((p): p is ConfigProblem => p !== undefined);
  const once = found.filter((p, i) => found.findIndex((q) => q.message === p.message) === i);
  return once.sort((a, b) => a.line - b.line);
}

/** The instance path of an error as keys: "/training/schedule" is ["training", "schedule"]. */
const keysOf = (pointer: string): ConfigPath =>
  pointer === '' ? [] : pointer.slice(1).split('/').map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));

/** The schema node at a schema path such as "#/properties/model/else", `up` segments short of its end. */
function schemaAt(schemaPath: string, up: number): Schema | undefined {
  const keys = keysOf(schemaPath.replace(/^#/, ''));
  let s: unknown = STAR_SCHEMA;
  for (const k of keys.slice(0, keys.length - up)) s = (s as Record<string, unknown> | undefined)?.[k];
  return typeof s === 'object' && s !== null ? (s as Schema) : undefined;
}

/** The schema of `key` in the nearest object schema at or above a schema path (a `then` has none of its own). */
function propertySchema(schemaPath: string, key: string): Schema | undefined {
  for (let up = 1; up <= keysOf(schemaPath.replace(/^#/, '')).length; up++) {
    const sub = (schemaAt(schemaPath, up)?.properties as Record<string, Schema> | undefined)?.[key];
    if (sub) return sub;
  }
  return undefined;
}

/** " for a command trainer": the variant of a nested object a key belongs to (the file's own title is none). */
const variantOf = (s: Schema | undefined, at: ConfigPath) =>
  (at.length && typeof s?.title === 'string' ? ` for ${s.title}` : '');

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1).replace(/\.$/, '');

/** One ajv error as a line of star.json and what is wrong there; undefined for an error that only wraps others. */
function problemOf(e: ErrorObject, src: ConfigText): ConfigProblem | undefined {
  const at = keysOf(e.instancePath);
  const parent = e.parentSchema as Schema | undefined;
  const said = (path: ConfigPath, message: string) => ({ line: src.lineOf(path), message });
  switch (e.keyword) {
    case 'if':
      return undefined; // its branch's own errors say what is wrong
    case 'additionalProperties': {
      const key = [...at, String(e.params.additionalProperty)];
      const allowed = Object.keys((parent?.properties ?? {}) as object).join(', ');
      return said(key, `unknown setting "${pathName(key)}"${variantOf(parent, at)} (allowed: ${allowed})`);
    }
    case 'required': {
      const key = String(e.params.missingProperty);
      // a variant's missing kind is said by the discriminator's error
      if ((parent?.discriminator as { propertyName?: string } | undefined)?.propertyName === key) return undefined;
      const sub = propertySchema(e.schemaPath, key);
      const what = sub && sub.const === undefined ? `: ${allowedValues(sub)}` : '';
      return said(at, `"${pathName([...at, key])}" is required${variantOf(parent, at)}${what}`);
    }
    case 'discriminator': {
      const tag = [...at, String(e.params.tag)];
      const kinds = ((parent?.oneOf ?? []) as Schema[]).map((v) => (v.properties as Record<string, Schema>).kind.const);
      const got = src.source(tag);
      if (got === undefined) return said(at, `"${pathName(tag)}" is required: one of ${kinds.join(', ')}`);
      return said(tag, `"${pathName(tag)}" must be one of ${kinds.join(', ')} (got ${got})`);
    }
    case 'false schema': {
      // a key refused where it cannot apply: the branch that refuses it says why (properties/<key>/false schema)
      const why = schemaAt(e.schemaPath, 3)?.errorMessage;
      const reason = typeof why === 'string' ? lowerFirst(why) : 'it does not apply';
      return said(at, `"${pathName(at)}" is not allowed here: ${reason}`);
    }
    default:
      const allowed = parent ? allowedValues(parent) : e.message;
      return said(at, `"${pathName(at)}" must be ${allowed} (got ${src.source(at)})`);
  }
}

/** What the values refuse together, in a config that passed the schema and has its defaults. */
export function crossProblems(c: ProjectConfig, src: ConfigText): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const at = (path: ConfigPath, message: string) => out.push({ line: src.lineOf(path), message });
  const given = (path: ConfigPath) => src.source(path) !== undefined;
  const m = c.model;
  if (m.backend === 'embedded' && m.pretrained === undefined) {
    if (m.nEmbd % m.nHead !== 0)
      at(['model', 'nEmbd'], `"model.nEmbd" must be a multiple of "model.nHead" (${m.nHead}) (got ${m.nEmbd})`);
    const maxNew = c.sampling.maxNewTokens;
    if (maxNew >= m.blockSize) {
      const where = given(['sampling', 'maxNewTokens']) ? ['sampling', 'maxNewTokens'] : ['model', 'blockSize'];
      const got = `${maxNew}${given(['sampling', 'maxNewTokens']) ? '' : ', the default'}`;
      at(where, `"sampling.maxNewTokens" must be less than "model.blockSize" (${m.blockSize}): the prompt and the ` +
        `answer share the block (got ${got})`);
    }
  }
  const trainer = c.trainer ?? { kind: 'embedded' };
  if (m.backend === 'openai' && trainer.kind === 'embedded')
    at(['trainer'], 'the embedded trainer fine-tunes the embedded model only; with "model.backend": "openai" use ' +
      '{"kind":"command",...} or {"kind":"none"}');
  if (m.backend === 'embedded' && trainer.kind === 'command')
    at(['trainer'], 'a command trainer drives a served model: set "model.backend" to "openai"');
  if (trainer.kind !== 'none') out.push(...scheduleProblems(c, src));
  return out.sort((a, b) => a.line - b.line);
}

/** A schedule that trains no step, or absurdly many, in an iteration the run plans. */
function scheduleProblems(c: ProjectConfig, src: ConfigText): ConfigProblem[] {
  const s = c.training.schedule;
  // an epochs schedule depends on the size of each iteration's set, and trains at least one step
  if (s.kind === 'epochs') return [];
  const N = c.star.iterations;
  for (let n = 1; n <= N; n++) {
    const steps = trainSteps(s, n, 0, 1);
    const where = { line: src.lineOf(['training', 'schedule']) };
    if (steps < 1)
      return [{ ...where, message: `"training.schedule" trains 0 steps in iteration ${n} of ${N} ` +
        '("star.iterations"): every iteration needs at least 1; raise "growth"' }];
    if (!(steps <= MAX_ITERATION_STEPS))
      return [{ ...where, message: `"training.schedule" trains ${steps} steps in iteration ${n} of ${N} ` +
        `("star.iterations"): at most ${MAX_ITERATION_STEPS}; lower "${s.kind === 'linear' ? 'increment' : 'growth'}"` +
        ' or "star.iterations"' }];
  }
  return [];
}
