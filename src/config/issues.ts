import type { z } from 'zod';
import { describeFound, formatPath, isSensitivePath } from './describe.js';
import { knownKeysAt, valueAt } from './known-keys.js';
import { closestKey } from './suggest.js';

/**
 * zod issues -> config error lines, one per problem:
 *
 *   config error at source.brokers[0]: expected a "host:port" string, found 42
 *   config error at model.layer: unknown key; did you mean "layers"?
 *
 * The schema's own `error` texts say what was expected; `expectedText` words the
 * issues that have none; "found" is read from the raw input, not from zod's issue,
 * so that it always describes what the file holds.
 */

type Issue = z.core.$ZodIssue;

const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping (key: value)',
  record: 'a mapping (key: value)',
};

/** Default "expected ..." text for an issue raised by a schema without its own error text; passed to safeParse. */
export function expectedText(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return TYPE_WORDS[issue.expected] ?? `a ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return `${issue.origin === 'array' ? 'a list with at least' : issue.origin === 'string' ? 'a string of at least' : 'at least'} ${String(issue.minimum)}${issue.origin === 'array' ? ' items' : issue.origin === 'string' ? ' characters' : ''}`;
    case 'too_big':
      return `${issue.origin === 'array' ? 'a list with at most' : issue.origin === 'string' ? 'a string of at most' : 'at most'} ${String(issue.maximum)}${issue.origin === 'array' ? ' items' : issue.origin === 'string' ? ' characters' : ''}`;
    case 'invalid_format':
      return `a string in ${issue.format} format`;
    case 'invalid_union':
      return 'one of the allowed forms';
    default:
      return 'a valid value';
  }
}

function unknownKeyLines(issue: Extract<Issue, { code: 'unrecognized_keys' }>, schema: z.ZodType, input: unknown): string[] {
  const known = knownKeysAt(schema, issue.path, input);
  return issue.keys.map((key) => {
    const where = formatPath([...issue.path, key]);
    const suggestion = closestKey(key, known);
    if (suggestion !== undefined) return `config error at ${where}: unknown key; did you mean "${suggestion}"?`;
    const choices = known.length > 0 ? `; expected one of ${known.join(', ')}` : '';
    return `config error at ${where}: unknown key${choices}`;
  });
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function issueLines(issues: readonly Issue[], schema: z.ZodType, input: unknown): string[] {
  const lines: string[] = [];
  // An object with an unknown key also fails its whole-object checks; the unknown key is the news.
  const reported = new Set<string>(issues.filter((i) => i.code === 'unrecognized_keys').map((i) => formatPath(i.path)));
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      lines.push(...unknownKeyLines(issue, schema, input));
      continue;
    }
    const where = formatPath(issue.path);
    // zod runs every check of a field; the first failed one says enough.
    if (reported.has(where)) continue;
    reported.add(where);
    // A custom issue may carry a complete "expected ..., found ..." text of its own (secrets from the environment).
    if (issue.code === 'custom' && (issue.params as { complete?: boolean } | undefined)?.complete === true) {
      lines.push(`config error at ${where}: expected ${oneLine(issue.message)}`);
      continue;
    }
    if (issue.code === 'invalid_union' && issue.discriminator !== undefined && 'options' in issue && issue.options) {
      const found = describeFound(valueAt(input, issue.path), false);
      lines.push(`config error at ${where}: expected one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}, found ${found}`);
      continue;
    }
    if (issue.code === 'invalid_key') {
      const key = String(issue.path[issue.path.length - 1]);
      const found = JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}...` : key);
      lines.push(`config error at ${where}: expected ${oneLine(issue.issues[0]?.message ?? 'a valid key')} as the key, found ${found}`);
      continue;
    }
    const found = describeFound(valueAt(input, issue.path), isSensitivePath(issue.path));
    lines.push(`config error at ${where}: expected ${oneLine(issue.message)}, found ${found}`);
  }
  return [...new Set(lines)];
}
