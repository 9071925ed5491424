/**
 * Small typed parsers for environment values. Each returns the parsed value or throws a
 * ConfigError whose single line follows the fixed format (see errors.ts). None of them is ever
 * given a secret variable's value: secrets are validated in token.ts / age-key.ts / verify-key.ts / source.ts, which
 * never quote the value.
 */
import { resolve } from 'node:path';
import { maskUrl, quote } from '../../common/display.js';
import { refuse } from './errors.js';

export type Env = NodeJS.ProcessEnv;

/** The raw value, or undefined when unset. An empty string counts as set (and is refused). */
export function read(env: Env, name: string): string | undefined {
  return env[name];
}

/** C0 controls, DEL and C1 controls (checked by code point: a regex of them trips the linter). */
export function hasControlChar(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

/**
 * Can travel as a bearer credential in an HTTP header: visible ASCII only (0x21-0x7E). Spaces would
 * split the `Authorization` value, control characters are illegal in headers, and non-ASCII has no
 * portable header encoding.
 */
export function isHeaderSafe(value: string): boolean {
  return /^[\x21-\x7e]+$/.test(value);
}

/** Digits only, so echoing them is safe; a very long run is cut so the line stays readable. */
export function shownDigits(raw: string): string {
  return raw.length > 20 ? `${raw.slice(0, 20)}…` : raw;
}

/**
 * A decimal integer in [min, max]. Strict on purpose: no sign, spaces, decimals, exponents or hex,
 * so `5m`, `1e3` or ` 80` are refused instead of silently meaning something else.
 */
export function integer(name: string, raw: string, min: number, max: number, expected = `an integer from ${min} to ${max}`): number {
  if (raw === '') refuse(name, 'is empty', expected);
  const negative = /^-[0-9]+$/.test(raw);
  if (!negative && !/^[0-9]+$/.test(raw)) refuse(name, `${quote(raw)} is not an integer`, expected);
  const shown = shownDigits(raw);
  const n = Number(raw);
  if (negative || n < min) refuse(name, `${shown} is below the minimum`, expected);
  if (n > max) refuse(name, `${shown} is above the maximum`, expected);
  return n;
}

/** `true`/`false`/`1`/`0`, case-insensitive. Anything else (`yes`, `on`, empty) is refused. */
export function boolean(name: string, raw: string): boolean {
  const v = raw.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return refuse(name, raw === '' ? 'is empty' : `${quote(raw)} is not a boolean`, 'true, false, 1 or 0');
}

/** One of a fixed set of lowercase words; the input is matched case-insensitively. */
export function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[], noun: string): T {
  const v = raw.toLowerCase();
  const hit = allowed.find((a) => a === v);
  if (hit !== undefined) return hit;
  return refuse(name, raw === '' ? 'is empty' : `${quote(raw)} is not a valid ${noun}`, `one of ${allowed.join(', ')}`);
}

/**
 * A non-empty, non-secret string without control characters, at most `max` characters. Used for
 * names that end up in logs, telemetry attributes and comparisons.
 */
export function text(name: string, raw: string, max: number, expected = `a non-empty string of at most ${max} characters without control characters`): string {
  if (raw === '') refuse(name, 'is empty', expected);
  if (hasControlChar(raw)) refuse(name, `${quote(raw)} contains a control character`, expected);
  if (raw.length > max) refuse(name, `${quote(raw)} is longer than ${max} characters`, expected);
  return raw;
}

/**
 * A filesystem path, resolved against `cwd`. Only the syntax is checked here; callers decide what
 * must exist. A NUL byte would make every fs call throw, so it is refused up front.
 */
export function pathValue(name: string, raw: string, cwd: string, expected: string): string {
  if (raw === '') refuse(name, 'is empty', expected);
  if (raw.includes('\0')) refuse(name, `${quote(raw)} contains a NUL byte`, expected);
  return resolve(cwd, raw);
}

const AGENT_ID_EXPECTED = '1 to 128 characters: letters, digits and . _ - : @ / + =';

/** An agent id: it goes into logs and telemetry attributes, so it is kept to a conservative character set. */
export function agentId(name: string, raw: string): string {
  if (raw === '') refuse(name, 'is empty', AGENT_ID_EXPECTED);
  if (raw.length > 128) refuse(name, `${quote(raw)} is longer than 128 characters`, AGENT_ID_EXPECTED);
  if (!/^[A-Za-z0-9._:@/+=-]+$/.test(raw)) refuse(name, `${quote(raw)} contains a character that is not allowed`, AGENT_ID_EXPECTED);
  return raw;
}

const HTTP_EXPECTED = 'an http:// or https:// URL';

/**
 * An absolute http(s) URL. An unparsable value is not echoed: it cannot be masked, and URLs often
 * carry credentials. A parsed one is shown masked (see maskUrl).
 */
export function httpUrl(name: string, raw: string, expected = HTTP_EXPECTED): URL {
  if (raw === '') refuse(name, 'is empty', expected);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse(name, 'is not a valid URL', expected);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') refuse(name, `uses the unsupported scheme ${quote(url.protocol)}`, expected);
  if (url.hostname === '') refuse(name, `${quote(maskUrl(url))} has no host`, expected);
  return url;
}
