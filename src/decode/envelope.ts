/**
 * A string field of a JSON message: `{"text": "..."}` or `{"image": "<base64>"}`, other keys
 * ignored. Same hostile-payload rules as decode-json.ts: the size is bounded before this
 * runs, nesting depth by a byte scan before JSON.parse, and only an own string property
 * is read.
 */
import { jsonDepth } from './json.js';
import type { RejectReason } from './types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Metadata next to the field may nest a little; nothing needs more. */
const MAX_DEPTH = 8;

export type FieldResult = { ok: true; value: string } | { ok: false; reason: RejectReason; detail: string };

function firstLine(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'unreadable';
}

/** UTF-8 text, or 'bad_utf8'. */
export function decodeUtf8(bytes: Uint8Array): { ok: true; value: string } | { ok: false; reason: 'bad_utf8'; detail: string } {
  try {
    return { ok: true, value: utf8.decode(bytes) };
  } catch (error) {
    return { ok: false, reason: 'bad_utf8', detail: firstLine(error) };
  }
}

export function readStringField(bytes: Uint8Array, field: string): FieldResult {
  const text = decodeUtf8(bytes);
  if (!text.ok) return text;
  if (jsonDepth(bytes, MAX_DEPTH) > MAX_DEPTH) return { ok: false, reason: 'bad_json', detail: `nested deeper than ${MAX_DEPTH} levels` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.value);
  } catch (error) {
    return { ok: false, reason: 'bad_json', detail: firstLine(error) };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: 'bad_envelope', detail: `expected a JSON object with a string "${field}"` };
  }
  const value = Object.hasOwn(parsed, field) ? (parsed as Record<string, unknown>)[field] : undefined;
  if (typeof value !== 'string') {
    return { ok: false, reason: 'bad_envelope', detail: `expected a string "${field}", found ${value === undefined ? 'none' : value === null ? 'null' : typeof value}` };
  }
  return { ok: true, value };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DATA_URL = /^data:[a-z]+\/[a-z0-9.+-]+;base64,/i;

/** Strict base64 (a data: URL prefix allowed), or null. */
export function decodeBase64(text: string): Uint8Array | null {
  const body = text.replace(DATA_URL, '').replace(/\s+/g, '');
  if (body.length % 4 !== 0 || !BASE64.test(body)) return null;
  return Buffer.from(body, 'base64');
}
