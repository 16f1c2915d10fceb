/**
 * "found ..." in a config error: what the file holds at the path, short and on one
 * line. Strings are quoted with JSON escapes (a newline in a value cannot split the
 * message) and cut at 60 characters; values under keys that look like secrets are
 * described by type and length only, in case someone pasted a password where its
 * variable's name belongs.
 */

const SENSITIVE_KEY = /pass|secret|token|credential/i;

export function isSensitivePath(path: readonly PropertyKey[]): boolean {
  return path.some((k) => typeof k === 'string' && SENSITIVE_KEY.test(k));
}

function quoted(text: string, max: number): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}...` : text);
}

export function describeFound(found: { present: boolean; value: unknown }, sensitive: boolean): string {
  if (!found.present) return 'nothing (the key is missing)';
  const v = found.value;
  if (v === null) return 'null (an empty value)';
  if (typeof v === 'string') {
    if (sensitive) return `a string of ${v.length} characters (not shown)`;
    return v.length === 0 ? 'an empty string' : quoted(v, 60);
  }
  if (typeof v === 'number' || typeof v === 'boolean') return sensitive ? `a ${typeof v} (not shown)` : String(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : `a list of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0) return 'an empty mapping';
    const shown = keys.slice(0, 4).map((k) => quoted(k, 30)).join(', ');
    return `a mapping with ${shown}${keys.length > 4 ? ', ...' : ''}`;
  }
  return typeof v;
}

/** model.layers[2], source.sasl, thresholds["/layer1/Add_output_0"]: keys that are not identifiers are quoted. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${quoted(String(key), 60)}]`;
  }
  return out === '' ? 'top level' : out;
}
