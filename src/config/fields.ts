import { resolve } from 'node:path';
import { validateDetailed } from 'node-cron';
import { z } from 'zod';
import { formatDuration, parseDuration } from './duration.js';
import { Secret } from './secret.js';

/**
 * Field schemas shared by the config sections. Each `error` text is what was
 * expected, in words; issues.ts adds the path and what was found, so that every
 * problem reads "config error at <path>: expected <this>, found <that>".
 */

/** What the schema needs from outside: the environment (secrets) and where relative paths start. */
export interface SchemaContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly baseDir: string;
}

export const nonEmpty = z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' }).max(1024, { error: 'a string of at most 1024 characters' });

/** A path, resolved against the config file's folder so that a config works from any working directory. */
export function filePath(ctx: SchemaContext, what: string) {
  return z
    .string({ error: `${what} path` })
    .min(1, { error: `${what} path` })
    .max(4096, { error: `${what} path of at most 4096 characters` })
    .refine((p) => !p.includes('\0'), { error: `${what} path without NUL characters` })
    .transform((p) => resolve(ctx.baseDir, p));
}

export function duration(limits: { min: number; max: number }) {
  const expected = `a duration from ${formatDuration(limits.min)} to ${formatDuration(limits.max)} like "30s", "5m" or "1h"`;
  return z
    .string({ error: expected })
    .max(64, { error: expected })
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms < limits.min || ms > limits.max) {
        ctx.issues.push({ code: 'custom', message: expected, input: text });
        return z.NEVER;
      }
      return ms;
    });
}

export function wholeNumber(min: number, max: number) {
  const expected = `a whole number from ${min} to ${max}`;
  return z.int({ error: expected }).min(min, { error: expected }).max(max, { error: expected });
}

/** How many samples to score (daemon/sampling.ts): a fixed fraction in (0, 1], or auto, as many as the model keeps up with. */
const SAMPLING = 'a fraction above 0 and at most 1 (1: score every sample), or auto';
export const sampling = z.union([z.literal('auto'), z.number({ error: SAMPLING }).gt(0, { error: SAMPLING }).lte(1, { error: SAMPLING })], { error: SAMPLING });

export const sha256 = z
  .string({ error: 'a SHA-256 digest (64 hex digits)' })
  .regex(/^[0-9a-fA-F]{64}$/, { error: 'a SHA-256 digest (64 hex digits)' })
  .transform((hex) => hex.toLowerCase());

/** ONNX tensor names are free text; only names that would break JSON objects or labels are refused. */
export const tensorName = nonEmpty.refine((name) => !['__proto__', 'constructor', 'prototype'].includes(name) && !/[\n\r\0]/.test(name), {
  error: 'an ONNX tensor name',
});

export const hostPort = z
  .string({ error: 'a "host:port" string' })
  .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):[0-9]{1,5}$/, { error: 'a "host:port" string' })
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) >= 1 && Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, {
    error: 'a "host:port" string with a port from 1 to 65535',
  });

/** Kafka's own rule for topic names (kafka.common.internals.Topic). */
export const topicName = z
  .string({ error: 'a Kafka topic name' })
  .regex(/^[A-Za-z0-9._-]{1,249}$/, { error: 'a Kafka topic name (letters, digits, ".", "_", "-"; at most 249)' })
  .refine((t) => t !== '.' && t !== '..', { error: 'a Kafka topic name other than "." or ".."' });

/** A value usable as a Prometheus label value and a file name. */
export const identifier = z
  .string({ error: 'a name of letters, digits and "_"' })
  .regex(/^[A-Za-z0-9_]{1,64}$/, { error: 'a name of letters, digits and "_" (at most 64)' });

export const cron = z.string({ error: 'a cron expression' }).superRefine((expression, ctx) => {
  const check = validateDetailed(expression);
  if (!check.valid) {
    const why = check.errors[0]?.message ?? 'invalid';
    ctx.addIssue({ code: 'custom', message: `a cron expression like "*/10 * * * * *" (${why.replace(/\s+/g, ' ').slice(0, 120)})`, input: expression });
  }
});

/**
 * Upper case only: the convention for environment variables, and a guard against a
 * password pasted where its variable's name belongs (which a message would then show).
 */
export const envName = z
  .string({ error: 'the name of an environment variable, like KAFKA_PASSWORD' })
  .regex(/^[A-Z_][A-Z0-9_]{0,127}$/, { error: 'the name of an environment variable in upper case, like KAFKA_PASSWORD' });

/**
 * For `.transform()` of a section with `passwordEnv: NAME`: adds `password: Secret`
 * from the environment. A missing or empty variable is a config problem that names
 * the variable; its value never goes into a message.
 */
export function passwordFromEnv(ctx: SchemaContext) {
  return <T extends { passwordEnv: string }>(section: T, zctx: z.core.$RefinementCtx<T>): T & { password: Secret } => {
    const value = Object.hasOwn(ctx.env, section.passwordEnv) ? ctx.env[section.passwordEnv] : undefined;
    if (value === undefined || value === '') {
      zctx.issues.push({
        code: 'custom',
        message: `the environment variable ${section.passwordEnv} to be set (it holds the password), found it ${value === undefined ? 'unset' : 'empty'}`,
        input: section.passwordEnv,
        path: ['passwordEnv'],
        params: { complete: true },
      });
      return z.NEVER;
    }
    return { ...section, password: new Secret(value) };
  };
}
