import { readFileSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors/index.js';
import { expectedText, issueLines } from './issues.js';
import { createConfigSchema, type Config } from './schema.js';

/**
 * Reading a config file:
 *
 *   file --read (size bound)--> text --YAML or JSON--> plain data --zod schema--> Config
 *                                                                  (defaults, ms, absolute paths, secrets from env)
 *
 * Every problem becomes a ConfigError whose message has one line per problem, each
 * "config error ...: expected ..., found ...", with no stack and no secret in it.
 */

export type ConfigFormat = 'yaml' | 'json';

export interface ParseConfigOptions {
  /** Environment to read secrets from; process.env by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Folder that relative paths start from; the config file's folder when loading a file. */
  readonly baseDir?: string;
  /** Name of the file, for syntax error messages. */
  readonly fileName?: string;
}

/** No sensible config is anywhere near this; a bigger file is a mistake (a model or a data set passed by hand). */
const MAX_CONFIG_BYTES = 1024 * 1024;

function syntaxError(fileName: string, detail: string): ConfigError {
  // The yaml library's messages run on with a code excerpt after "line L, column C:".
  return new ConfigError(`config error in ${fileName}: ${detail.split('\n')[0]!.trim().replace(/:$/, '')}`);
}

/** JSON.parse says "at position 812"; people look for a line and column. */
function withLineAndColumn(message: string, text: string): string {
  const position = /at position (\d+)/.exec(message);
  if (!position) return message;
  const before = text.slice(0, Number(position[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return message.replace(/at position \d+.*$/s, `at line ${line}, column ${column}`);
}

function parseText(text: string, format: ConfigFormat, fileName: string): unknown {
  if (format === 'json') {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw syntaxError(fileName, `not valid JSON: ${withLineAndColumn(error instanceof Error ? error.message : String(error), text)}`);
    }
  }
  // YAML 1.2 (a superset of JSON): yes/no stay strings, duplicate keys and unknown tags are errors.
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw syntaxError(fileName, problem.message);
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw syntaxError(fileName, error instanceof Error ? error.message : String(error));
  }
}

/**
 * Building the schema costs a few milliseconds (zod compiles each object), so one is
 * kept per environment object and base folder: a daemon loads once, but tests and
 * `ckawatch validate` over many files load often.
 */
const schemas = new WeakMap<object, Map<string, ReturnType<typeof createConfigSchema>>>();

function schemaFor(env: Readonly<Record<string, string | undefined>>, baseDir: string): ReturnType<typeof createConfigSchema> {
  const byDir = schemas.get(env) ?? new Map<string, ReturnType<typeof createConfigSchema>>();
  schemas.set(env, byDir);
  const cached = byDir.get(baseDir);
  if (cached) return cached;
  const schema = createConfigSchema({ env, baseDir });
  byDir.set(baseDir, schema);
  return schema;
}

/** Validates parsed data (a YAML or JSON document) into a Config; throws ConfigError. */
export function parseConfigData(data: unknown, options: ParseConfigOptions = {}): Config {
  const schema = schemaFor(options.env ?? process.env, resolve(options.baseDir ?? '.'));
  const result = schema.safeParse(data, { error: (issue) => expectedText(issue) });
  if (result.success) return result.data;
  throw new ConfigError(issueLines(result.error.issues, schema, data).join('\n'));
}

export function parseConfigText(text: string, format: ConfigFormat, options: ParseConfigOptions = {}): Config {
  if (text.trim() === '') throw new ConfigError(`config error in ${options.fileName ?? 'config'}: the file is empty`);
  return parseConfigData(parseText(text, format, options.fileName ?? 'config'), options);
}

/** .json is read as JSON, anything else as YAML (which also reads JSON). */
export function formatOf(path: string): ConfigFormat {
  return extname(path).toLowerCase() === '.json' ? 'json' : 'yaml';
}

function readText(path: string): string {
  try {
    const size = statSync(path).size;
    if (size > MAX_CONFIG_BYTES) throw new ConfigError(`config error: ${path} is ${size} bytes; a config file is at most ${MAX_CONFIG_BYTES}`);
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : String((error as Error).message).split('\n')[0];
    throw new ConfigError(`config error: cannot read ${path}: ${why}`, { cause: error });
  }
}

/**
 * Loads and validates a config file. Relative paths in it are taken from the file's
 * folder; secrets come from `env` (process.env by default).
 */
export function loadConfig(path: string, options: Omit<ParseConfigOptions, 'baseDir' | 'fileName'> = {}): Config {
  const text = readText(path);
  return parseConfigText(text, formatOf(path), { ...options, baseDir: dirname(resolve(path)), fileName: path });
}
