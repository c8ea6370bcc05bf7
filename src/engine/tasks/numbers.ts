// Number normalisation shared by the tasks, plus the few record-field checks every task's fromRecord needs
// (kept here rather than in each task so the error wording is the same everywhere).

// One number as people write it: a sign (before or after `$`), `$` and maybe a space, digits with commas only
// between groups of three (1,000 and 12,345.6, never 1,5 or 1,0000), a decimal part, `%`, a closing period.
const NUMBER = /^([+\-\u2212]?)(?:\$\s?)?([+\-\u2212]?)(\d{1,3}(?:,\d{3})+|\d*)(?:\.(\d*))?\s?%?\.?$/;

/**
 * Canonical form of a number written the way people and models write answers: `$1,000.` → "1000", `18.00` → "18",
 * `.5` → "0.5", `12%` → "12", `-3` → "-3". Works on the digits, not a float, so long integers keep every digit.
 * Returns null when the text is not one number: `1 2` is not 12, and `1,5` is neither 15 nor 1.5.
 */
export function normalizeNumber(s: string): string | null {
  const m = NUMBER.exec(s.trim());
  if (!m) return null;
  const [, sign1, sign2, intPart, frac = ''] = m;
  if (sign1 && sign2) return null;
  if (intPart === '' && frac === '') return null;
  const int = intPart.replace(/,/g, '').replace(/^0+/, '') || '0';
  const fr = frac.replace(/0+$/, '');
  const body = fr ? `${int}.${fr}` : int;
  return (sign1 || sign2) && (sign1 || sign2) !== '+' && body !== '0' ? `-${body}` : body;
}

/** Why a text that normalizeNumber refused is not one number, when a usual slip explains it; else ''. */
export function notOneNumber(s: string): string {
  if (/\d[\s\u00a0\u202f]+\d/.test(s.trim())) return ' (a space between digits: one number is written 1200 or 1,200)';
  if (/\d,\d/.test(s)) return ' (a comma only separates thousands, as in 1,000; a decimal takes a point: 1.5)';
  return '';
}

// A run of number characters as it stands in free text: digits joined by commas, points or single spaces, with a
// sign, `$` and `%` around them. Taken whole and then checked, so "1 2" or "1,5" is no number rather than 1 or 15.
const NUMBER_IN_TEXT = /[+\-\u2212]?(?:\$\s?)?(?:\d|\.\d)[\d,.]*(?:[ \u00a0\u202f]\d[\d,.]*)*\s?%?/;

/**
 * The first number in free text ("The answer is $1,000 dollars." → "1000"), normalised; null when there is none,
 * or when the first is not one number as written ("1 2", "1,5").
 */
export function extractNumber(text: string): string | null {
  const m = NUMBER_IN_TEXT.exec(text);
  // a comma or point after the number ends the clause or sentence ("5, so", "18.")
  return m ? normalizeNumber(m[0].trim().replace(/[,.]+$/, '')) : null;
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
  if (v === undefined || v === null) throw new Error(`missing field "${where}${key}"${fieldsOf(o)}`);
  if (typeof v !== 'string') throw new Error(`field "${where}${key}" must be a string`);
  if (v.trim() === '') throw new Error(`field "${where}${key}" is empty`);
  return v;
}

// A record of another dataset's shape (MATH's "problem", say) is told apart from a typo by the fields it does have.
function fieldsOf(o: Rec): string {
  const keys = Object.keys(o);
  if (keys.length === 0) return '';
  const shown = keys.slice(0, 8).map((k) => (k.length > 30 ? `${k.slice(0, 30)}…` : k)).join(', ');
  return ` (the record has ${shown}${keys.length > 8 ? ', …' : ''})`;
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
