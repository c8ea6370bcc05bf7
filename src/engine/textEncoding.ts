// Text files as editors, spreadsheets and hubs save them. Accepted: a UTF-8 byte-order mark, CRLF or lone-CR line
// ends, no final newline (and, for JSON Lines, gzip: see store/jsonl.ts). Named instead of misread: UTF-16 and
// UTF-32, invalid UTF-8 (a Latin-1 or Windows-1252 file), compressed files and archives, spreadsheets, Parquet, and
// binary content. What a message quotes from a file is escaped and cut short, so a terminal never gets raw bytes.
import * as fs from 'fs';

/** How many bytes of a file are looked at to tell what it is. */
export const HEAD_BYTES = 4096;

const EXPECTED = 'JSON Lines (one JSON object per line) expected';

const startsWith = (b: Uint8Array, magic: number[], at = 0) =>
  b.length >= at + magic.length && magic.every((x, i) => b[at + i] === x);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const holds = (b: Uint8Array, s: string) => Buffer.from(b.buffer, b.byteOffset, b.length).includes(s, 0, 'latin1');

export const UTF8_BOM = [0xef, 0xbb, 0xbf];
export const GZIP_MAGIC = [0x1f, 0x8b];

export const isGzip = (head: Uint8Array) => startsWith(head, GZIP_MAGIC);

// Formats told apart by their first bytes, most specific first. gzip is here for readers that cannot decompress.
const MAGIC: [number[], (head: Uint8Array) => string][] = [
  [[0x00, 0x00, 0xfe, 0xff], () => 'UTF-32 (big-endian) text: save it as UTF-8'],
  [[0xff, 0xfe, 0x00, 0x00], () => 'UTF-32 (little-endian) text: save it as UTF-8'],
  [[0xff, 0xfe], () => 'UTF-16 (little-endian) text: save it as UTF-8'],
  [[0xfe, 0xff], () => 'UTF-16 (big-endian) text: save it as UTF-8'],
  [GZIP_MAGIC, () => 'gzip-compressed: decompress it first (gunzip FILE)'],
  [ascii('BZh'), () => 'bzip2-compressed: decompress it first (bunzip2 FILE)'],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], () => 'xz-compressed: decompress it first (unxz FILE)'],
  [[0x28, 0xb5, 0x2f, 0xfd], () => 'zstd-compressed: decompress it first (unzstd FILE)'],
  [[0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], () => `a 7-Zip archive: ${EXPECTED}`],
  [ascii('PK\x03\x04'), zipKind],
  [ascii('PK\x05\x06'), zipKind],
  [ascii('PK\x07\x08'), zipKind],
  [[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1], () => `an old-format Office file (an Excel .xls workbook?): ${EXPECTED}`],
  [ascii('PAR1'), () => `a Parquet file: ${EXPECTED}; convert it, e.g. in Python: pandas.read_parquet(FILE).to_json(OUT, orient="records", lines=True)`],
  [ascii('ARROW1'), () => `an Arrow file: ${EXPECTED}`],
  [ascii('SQLite format 3\0'), () => `an SQLite database: ${EXPECTED}`],
  [ascii('%PDF-'), () => `a PDF document: ${EXPECTED}`],
];

function zipKind(head: Uint8Array): string {
  // An Office file is a zip whose first entries name its parts.
  if (holds(head, 'xl/')) return `an Excel workbook (.xlsx): ${EXPECTED}; export the sheet and convert each row to a JSON object`;
  if (holds(head, 'word/')) return `a Word document (.docx): ${EXPECTED}`;
  if (holds(head, 'content.xml') || holds(head, 'opendocument')) return `an OpenDocument file (.ods/.odt): ${EXPECTED}`;
  return `a zip archive: ${EXPECTED}; unzip it first`;
}

/** A problem of a whole file: the 1-based line it shows at (0: the file as a whole) and the reason. */
export interface TextProblem {
  line: number;
  reason: string;
}

/**
 * Why the first bytes of a file say it is not UTF-8 text (UTF-16/32, compressed, an archive, a spreadsheet,
 * binary), or null when they may be. A UTF-8 byte-order mark is skipped, not a problem.
 */
export function notUtf8Text(head: Uint8Array): TextProblem | null {
  for (const [magic, say] of MAGIC) if (startsWith(head, magic)) return { line: 0, reason: say(head) };
  const body = startsWith(head, UTF8_BOM) ? head.subarray(3) : head;
  return nulPattern(body);
}

// NUL bytes never occur in UTF-8 text. Where they fall tells UTF-16 or UTF-32 without a byte-order mark (ASCII
// text: every other byte, or three of four, is 0) from other binary content, and a stray NUL in text (at its line).
function nulPattern(b: Uint8Array): TextProblem | null {
  const first = b.indexOf(0);
  if (first < 0) return null;
  const byPos = [0, 0, 0, 0];
  for (let i = 0; i < b.length; i++) if (b[i] === 0) byPos[i % 4]++;
  const quarter = b.length / 4;
  const most = (k: number) => byPos[k] >= 0.6 * quarter;
  const few = (k: number) => byPos[k] <= 0.1 * quarter;
  const whole = (reason: string) => ({ line: 0, reason });
  if (b.length >= 8) {
    if (most(1) && most(2) && most(3) && few(0)) return whole('UTF-32 (little-endian) text: save it as UTF-8');
    if (most(0) && most(1) && most(2) && few(3)) return whole('UTF-32 (big-endian) text: save it as UTF-8');
    const even = byPos[0] + byPos[2];
    const odd = byPos[1] + byPos[3];
    if (odd >= 0.3 * (b.length / 2) && even <= odd / 10) return whole('UTF-16 (little-endian) text: save it as UTF-8');
    if (even >= 0.3 * (b.length / 2) && odd <= even / 10) return whole('UTF-16 (big-endian) text: save it as UTF-8');
  }
  // Text up to the NUL: say where it is, as an editor counts; else it is some binary format.
  if (invalidUtf8At(b.subarray(0, first)) < 0) return nulAt(b, first);
  return whole(nulByte(first));
}

/** The 1-based line holding byte `offset` of a text, and where that line starts (LF, CRLF, lone CR end lines). */
function lineAt(b: Uint8Array, offset: number): { line: number; lineStart: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (b[i] === 0x0a || (b[i] === 0x0d && b[i + 1] !== 0x0a)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, lineStart };
}

/** A NUL byte at `offset` of a text, at its line and column. */
function nulAt(b: Uint8Array, offset: number): TextProblem {
  const { line, lineStart } = lineAt(b, offset);
  return { line, reason: nulByte([...lenient.decode(b.subarray(lineStart, offset))].length, 'column') };
}

/** The reason for a NUL byte at `offset` (0-based) of a file or line. */
export const nulByte = (offset: number, unit = 'byte') =>
  `binary content (a NUL byte at ${unit} ${offset + 1}): not a text file; ${EXPECTED}`;

/**
 * The offset of the first byte that is not valid UTF-8 (overlong forms, surrogates and code points past U+10FFFF
 * included, as TextDecoder's fatal mode rejects them), or -1 when all of it is valid.
 */
export function invalidUtf8At(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (n === 0) return i;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    if (i + 1 >= b.length || b[i + 1] < lo || b[i + 1] > hi) return i;
    for (let k = 2; k <= n; k++) if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return -1;
}

const lenient = new TextDecoder('utf-8');

/** The reason for the invalid byte at `offset` of `bytes` (one line, or a whole file starting at `lineStart`). */
export function invalidUtf8(bytes: Uint8Array, offset: number, lineStart = 0): string {
  // Column in characters, as an editor counts them; the bytes before the bad one are valid.
  const column = [...lenient.decode(bytes.subarray(lineStart, offset))].length + 1;
  const hex = bytes[offset].toString(16).toUpperCase().padStart(2, '0');
  return `invalid UTF-8 (byte 0x${hex} at column ${column}; the file may be Latin-1/Windows-1252: save it as UTF-8)`;
}

const strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one line strictly: its text, or the reason it is not UTF-8 text. A byte-order mark at its start is
 * dropped (the first line of a file saved with one, or any line of files joined with `cat`).
 */
export function decodeLine(bytes: Uint8Array): { text: string } | { reason: string } {
  const nul = bytes.indexOf(0);
  if (nul >= 0) return { reason: nulByte([...lenient.decode(bytes.subarray(0, nul))].length, 'column') };
  try {
    return { text: strict.decode(bytes) };
  } catch {
    return { reason: invalidUtf8(bytes, invalidUtf8At(bytes)) };
  }
}

/**
 * A whole small text file (a config), decoded strictly: its text without a byte-order mark, or the problem, worded
 * as for JSON Lines files.
 */
export function decodeTextFile(bytes: Uint8Array): { text: string } | TextProblem {
  const kind = notUtf8Text(bytes.subarray(0, HEAD_BYTES));
  if (kind) return kind;
  const body = startsWith(bytes, UTF8_BOM) ? bytes.subarray(3) : bytes;
  const nul = body.indexOf(0);
  if (nul >= 0) return nulAt(body, nul);
  try {
    return { text: strict.decode(body) };
  } catch {
    const bad = invalidUtf8At(body);
    const { line, lineStart } = lineAt(body, bad);
    return { line, reason: invalidUtf8(body, bad, lineStart) };
  }
}

/** Reads a whole small text file strictly (see decodeTextFile); `fail` makes the error thrown for a problem. */
export function readTextFile(file: string, fail: (line: number, reason: string) => Error): string {
  const r = decodeTextFile(fs.readFileSync(file));
  if ('reason' in r) throw fail(r.line, r.reason);
  return r.text;
}

// C0 and C1 controls, and characters a terminal shows as nothing or that reorder text (zero-width, bidi controls,
// line and paragraph separators, BOM); lone surrogates too.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text safe to print: control and invisible characters escaped (`\n`, `\u0000`), cut to about `max` characters
 * with "..." where it was cut.
 */
export function printable(s: string, max = 80): string {
  const cut = s.length > max;
  let t = cut ? s.slice(0, max) : s;
  // Do not leave half a surrogate pair at the cut.
  if (cut && /[\ud800-\udbff]$/.test(t)) t = t.slice(0, -1);
  t = t.replace(UNPRINTABLE, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return cut ? `${t}...` : t;
}

/** A value from a file, quoted for a message: `"text"`, escaped and cut short by printable. */
export const quoted = (s: string, max = 60) => `"${printable(s, max)}"`;
