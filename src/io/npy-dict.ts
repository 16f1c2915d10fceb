import { fail, ok, type Result } from './result.js';

/**
 * A parser for the one Python literal that a .npy header holds, e.g.
 *
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (64, 3, 32, 32), }
 *
 * NumPy reads it with `ast.literal_eval`; ckawatch reads untrusted bytes, so it takes
 * only what that dict can contain: quoted strings without escapes, True/False, and
 * tuples of non-negative integers; exactly the keys descr, fortran_order and shape,
 * each once. Anything else (lists of a structured dtype, nested dicts, expressions)
 * is refused with the position where parsing stopped.
 */

export interface NpyHeaderDict {
  readonly descr: string;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
}

/** NumPy allows 64 dimensions (NPY_MAXDIMS); more is a forged header. */
const MAX_DIMS = 64;

type Value = string | boolean | number[];

class Cursor {
  pos = 0;
  constructor(readonly text: string) {}

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  peek(): string | undefined {
    this.skipSpace();
    return this.text[this.pos];
  }

  eat(ch: string): boolean {
    if (this.peek() !== ch) return false;
    this.pos++;
    return true;
  }
}

type Step<T> = Result<T, 'bad_header'>;

function problem(c: Cursor, what: string): { ok: false; reason: 'bad_header'; detail: string } {
  const at = c.text[c.pos];
  const found = at === undefined ? 'the end of the header' : JSON.stringify(at);
  return fail('bad_header', `header dict: expected ${what} at character ${c.pos}, found ${found}`);
}

function parseString(c: Cursor): Step<string> {
  const quote = c.peek();
  if (quote !== "'" && quote !== '"') return problem(c, 'a quoted string');
  const end = c.text.indexOf(quote, c.pos + 1);
  if (end < 0) return problem(c, 'a closing quote');
  const body = c.text.slice(c.pos + 1, end);
  if (body.includes('\\') || body.includes('\n')) return problem(c, 'a plain string without escapes');
  c.pos = end + 1;
  return ok(body);
}

function parseNatural(c: Cursor): Step<number> {
  c.skipSpace();
  const m = /^[0-9]{1,16}/.exec(c.text.slice(c.pos, c.pos + 17));
  if (!m) return problem(c, 'a non-negative integer');
  const n = Number(m[0]);
  if (!Number.isSafeInteger(n)) return problem(c, 'an integer below 2^53');
  c.pos += m[0].length;
  if (/[0-9A-Za-z_.]/.test(c.text[c.pos] ?? '')) return problem(c, 'a non-negative integer');
  return ok(n);
}

function parseTuple(c: Cursor): Step<number[]> {
  c.eat('(');
  const items: number[] = [];
  let trailingComma = false;
  while (!c.eat(')')) {
    if (items.length > 0 && !trailingComma) return problem(c, '"," or ")"');
    if (items.length >= MAX_DIMS) return problem(c, `at most ${MAX_DIMS} dimensions`);
    const n = parseNatural(c);
    if (!n.ok) return n;
    items.push(n.value);
    trailingComma = c.eat(',');
  }
  // In Python `(3)` is the integer 3, not a tuple; NumPy refuses it too.
  if (items.length === 1 && !trailingComma) return fail('bad_header', 'header dict: shape (n) must be written (n,)');
  return ok(items);
}

function parseValue(c: Cursor): Step<Value> {
  const ch = c.peek();
  if (ch === "'" || ch === '"') return parseString(c);
  if (ch === '(') return parseTuple(c);
  if (ch === '[') return fail('bad_header', 'header dict: structured dtypes (a list as descr) are not supported');
  for (const [word, value] of [['True', true], ['False', false]] as const) {
    if (c.text.startsWith(word, c.pos) && !/[A-Za-z0-9_]/.test(c.text[c.pos + word.length] ?? '')) {
      c.pos += word.length;
      return ok(value);
    }
  }
  return problem(c, 'a string, True, False or a tuple');
}

function parseEntries(c: Cursor): Step<Map<string, Value>> {
  if (!c.eat('{')) return problem(c, '"{"');
  const entries = new Map<string, Value>();
  let separated = true;
  while (!c.eat('}')) {
    if (!separated) return problem(c, '"," or "}"');
    const key = parseString(c);
    if (!key.ok) return key;
    if (entries.has(key.value)) return fail('bad_header', `header dict: key '${key.value}' appears twice`);
    if (!c.eat(':')) return problem(c, '":"');
    const value = parseValue(c);
    if (!value.ok) return value;
    entries.set(key.value, value.value);
    separated = c.eat(',');
  }
  if (c.peek() !== undefined) return problem(c, 'only spaces after "}"');
  return ok(entries);
}

export function parseNpyHeaderDict(text: string): Result<NpyHeaderDict, 'bad_header'> {
  // The header is ASCII in practice (v3 allows UTF-8 only for structured field names).
  if (!/^[\x20-\x7e\s]*$/.test(text)) return fail('bad_header', 'header dict: contains characters outside printable ASCII');
  const parsed = parseEntries(new Cursor(text));
  if (!parsed.ok) return parsed;
  const d = parsed.value;
  const extra = [...d.keys()].filter((k) => k !== 'descr' && k !== 'fortran_order' && k !== 'shape');
  if (extra.length > 0) return fail('bad_header', `header dict: unexpected key '${extra[0]}'`);
  const descr = d.get('descr');
  const fortranOrder = d.get('fortran_order');
  const shape = d.get('shape');
  if (typeof descr !== 'string') return fail('bad_header', "header dict: 'descr' must be a string like '<f4'");
  if (typeof fortranOrder !== 'boolean') return fail('bad_header', "header dict: 'fortran_order' must be True or False");
  if (!Array.isArray(shape)) return fail('bad_header', "header dict: 'shape' must be a tuple of integers");
  return ok({ descr, fortranOrder, shape });
}
