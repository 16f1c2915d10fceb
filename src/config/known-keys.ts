import type { z } from 'zod';

/**
 * The keys a strict object in the schema accepts, found by walking the schema along
 * an issue's path (through optional, default, pipe and union wrappers), so that an
 * unknown key can be answered with the closest known one. For a discriminated union
 * the branch is the one the input's discriminator names.
 */

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: readonly z.ZodType[];
  discriminator?: string;
}

const defOf = (schema: z.ZodType): Def => schema._zod.def as unknown as Def;

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

function unwrap(schema: z.ZodType, input: unknown): z.ZodType {
  let s = schema;
  for (let guard = 0; guard < 32; guard++) {
    const def = defOf(s);
    const next = WRAPPERS.has(def.type) ? def.innerType : def.type === 'pipe' ? pipeSide(def) : def.type === 'union' ? pickOption(def, input) : undefined;
    if (next === undefined) return s;
    s = next;
  }
  return s;
}

/** A transform's input side holds the structure; a check-only input side (z.unknown()) defers to the output side. */
function pipeSide(def: Def): z.ZodType | undefined {
  return def.in && defOf(def.in).type !== 'unknown' ? def.in : def.out;
}

function pickOption(def: Def, input: unknown): z.ZodType | undefined {
  const options = def.options ?? [];
  const objects = options.map((o) => ({ option: o, shape: defOf(unwrap(o, input)).shape })).filter((o) => o.shape !== undefined);
  if (def.discriminator !== undefined && typeof input === 'object' && input !== null) {
    const tag = (input as Record<string, unknown>)[def.discriminator];
    const match = objects.find((o) => {
      const values = (o.shape![def.discriminator!]?._zod as { values?: Set<unknown> } | undefined)?.values;
      return values?.has(tag) ?? false;
    });
    if (match) return unwrap(match.option, input);
  }
  const only = objects.length === 1 ? objects[0] : undefined;
  return only ? unwrap(only.option, input) : undefined;
}

function child(value: unknown, key: PropertyKey): unknown {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, key) ? (value as Record<PropertyKey, unknown>)[key] : undefined;
}

export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[], input: unknown): string[] {
  let s: z.ZodType | undefined = unwrap(schema, input);
  let value = input;
  for (const key of path) {
    const def = defOf(s);
    if (def.shape) s = typeof key === 'string' ? def.shape[key] : undefined;
    else if (def.element) s = def.element;
    else if (def.valueType) s = def.valueType;
    else s = undefined;
    if (s === undefined) return [];
    value = child(value, key);
    s = unwrap(s, value);
  }
  return Object.keys(defOf(s).shape ?? {});
}

/** The input value at a path, through own properties only (a path may hold "__proto__"). */
export function valueAt(input: unknown, path: readonly PropertyKey[]): { present: boolean; value: unknown } {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return { present: false, value: undefined };
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return { present: true, value };
}
