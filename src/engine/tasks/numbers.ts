// Number normalisation shared by the tasks, plus the few record-field checks every task's fromRecord needs
// (kept here rather than in each task so the error wording is the same everywhere).

/**
 * Canonical form of a number written the way people and models write answers: `$1,000.` → "1000", `18.00` → "18",
 * `.5` → "0.5", `12%` → "12", `-3` → "-3". Works on the digits, not a float, so long integers keep every digit.
 * Returns null when the text is not a single number.
 */
export function normalizeNumber(s: string): string | null {
  const t = s.replace(/[$,%\s]/g, '').replace(/\.+$/, '');
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m) return null;
  const [, sign, intPart, frac = ''] = m;
  if (intPart === '' && frac === '') return null;
  const int = intPart.replace(/^0+/, '') || '0';
  const fr = frac.replace(/0+$/, '');
  const body = fr ? `${int}.${fr}` : int;
  return sign === '-' && body !== '0' ? `-${body}` : body;
}

/** The first number in free text ("The answer is $1,000 dollars." → "1000"), normalised; null when there is none. */
export function extractNumber(text: string): string | null {
  const m = /[+-]?\$?\s?(?:\d[\d,]*(?:\.\d+)?|\.\d+)%?/.exec(text);
  return m ? normalizeNumber(m[0]) : null;
}

/** A string of decimal digits with leading zeros stripped ("007" → "7", "000" → "0"); null if not all digits. */
export function normalizeDigits(s: string): string | null {
  const t = s.trim();
  if (!/^\d+$/.test(t)) return null;
  return t.replace(/^0+/, '') || '0';
}

// ---- record fields ----

export type Rec = Record<string, unknown>;

export function asRecord(rec: unknown): Rec {
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new Error('record is not a JSON object');
  return rec as Rec;
}

/** A required non-empty string field; the reason names the field so the user can fix the line. */
export function requireString(o: Rec, key: string, where = ''): string {
  const v = o[key];
  if (v === undefined || v === null) throw new Error(`missing field "${where}${key}"`);
  if (typeof v !== 'string') throw new Error(`field "${where}${key}" must be a string`);
  if (v.trim() === '') throw new Error(`field "${where}${key}" is empty`);
  return v;
}

/** The record's own id when it has a usable one, else the fallback (`<file basename>:<line>`). */
export function recordId(o: Rec, fallback: string): string {
  return typeof o.id === 'string' && o.id.trim() !== '' ? o.id : fallback;
}

/** Cuts a completion at the first stop sequence, as the generator would have. */
export function cutAtStop(text: string, stop: string[]): string {
  let end = text.length;
  for (const s of stop) {
    const i = text.indexOf(s);
    if (i >= 0 && i < end) end = i;
  }
  return text.slice(0, end);
}
