/**
 * Command-line parsing for `clef-agent pack`. Syntax only (which flags, how many, well-formed
 * numbers and dates); the meaning of the values is checked by packArtifact, which programmatic
 * callers reach without this module.
 */

import { parseArgs } from 'node:util';
import { parseIsoDate } from '../../common/iso-date.js';
import { PackError } from './errors.js';

export const USAGE = `Usage: clef-agent pack --payload <file.json> --recipient <age1...> --identity <name> --environment <name> [options]
       clef-agent pack --payload <file.json> --kms-key-id <key> --identity <name> --environment <name> [options]
       clef-agent pack --revoke-from <artifact.json> [--out <file>]

Encrypts a secrets payload to an age recipient, or seals it in an AWS KMS envelope, and writes a
clef-agent packed artifact (JSON).

Required:
  --payload <file>       payload JSON: {"ns": {"KEY": "value"}, ...} or {"KEY": "value", ...}
  --recipient <age1...>  age X25519 recipient; repeat the flag to encrypt to several
  --kms-key-id <key>     instead of --recipient: AWS KMS symmetric key (id, ARN or alias) that wraps
                         a fresh AES-256 data key (GenerateDataKey); uses the AWS SDK's default
                         credentials and region (AWS_REGION, AWS_ENDPOINT_URL_KMS)
  --identity <name>      service identity name
  --environment <name>   environment name

Options:
  --sign-key <file>      sign with this Ed25519 or ECDSA P-256 private key (PKCS#8, PEM or base64 DER);
                         the matching CLEF_AGENT_VERIFY_KEY is printed
  --sign-kms-key-id <key> sign with an AWS KMS ECC_NIST_P256 key (Sign, ECDSA_SHA_256); the key's
                         public half (GetPublicKey) is printed as CLEF_AGENT_VERIFY_KEY
  --ttl <seconds>        set expiresAt = packedAt + seconds (positive integer)
  --revision <id>        revision id (default: <UTC timestamp>-<random hex>)
  --packed-at <iso>      packing time with a zone, e.g. 2025-01-31T12:00:00Z (default: now); more
                         than 5 minutes in the future is refused (agents would refuse the artifact)
  --allow-future-packed-at  accept a --packed-at more than 5 minutes ahead (e.g. for a host whose
                         clock is known to be behind)
  --armor                ASCII-armor the age file inside the base64 ciphertext (age only)
  --out <file>           write the artifact to this file atomically (default: stdout)
  --revoke-from <file>   write a copy of this artifact with revokedAt set to now (a kill signal)
  -h, --help             show this help

Exit status: 0 success, 2 bad input (flags, files, payload, key), 1 other failure.

Documentation: README.md ("Building artifacts"), shipped in the clef-agent package.
`;

/** The synopsis lines of USAGE plus a pointer to the rest: what a flag mistake prints. */
export const SHORT_USAGE = `${USAGE.split('\n\n')[0] ?? ''}\nRun 'clef-agent pack --help' for all options.\n`;

export interface PackCommand {
  readonly kind: 'pack';
  readonly payloadPath: string;
  readonly recipients: readonly string[];
  readonly kmsKeyId?: string | undefined;
  readonly signKmsKeyId?: string | undefined;
  readonly identity: string;
  readonly environment: string;
  readonly revision: string | undefined;
  readonly packedAt: Date | undefined;
  readonly allowFuturePackedAt: boolean;
  readonly ttlSeconds: number | undefined;
  readonly signKeyPath: string | undefined;
  readonly armor: boolean;
  readonly out: string | undefined;
}

export interface RevokeCommand {
  readonly kind: 'revoke';
  readonly from: string;
  readonly out: string | undefined;
}

export type Command = { readonly kind: 'help' } | PackCommand | RevokeCommand;

const OPTIONS = {
  payload: { type: 'string' },
  recipient: { type: 'string', multiple: true },
  identity: { type: 'string' },
  environment: { type: 'string' },
  revision: { type: 'string' },
  'packed-at': { type: 'string' },
  'allow-future-packed-at': { type: 'boolean' },
  ttl: { type: 'string' },
  'sign-key': { type: 'string' },
  'kms-key-id': { type: 'string' },
  'sign-kms-key-id': { type: 'string' },
  armor: { type: 'boolean' },
  out: { type: 'string' },
  'revoke-from': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usageError(message: string): PackError {
  return new PackError(message, { showUsage: true });
}

/**
 * `--packed-at`: an ISO-8601 time with a zone, parsed as the agent parses `packedAt`
 * (common/iso-date.ts), or a bare date, which is UTC midnight. A zone-less time would silently mean
 * the packing machine's local time.
 */
export function parsePackedAt(text: string): Date {
  const ms = parseIsoDate(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  if (ms === null) throw usageError('--packed-at must be an ISO-8601 time with a zone, e.g. 2025-01-31T12:00:00Z');
  return new Date(ms);
}

function parseTtl(text: string): number {
  const n = Number(text);
  if (!/^[1-9][0-9]*$/.test(text) || !Number.isSafeInteger(n)) {
    throw usageError('--ttl must be a positive whole number of seconds');
  }
  return n;
}

/** The message of a parseArgs error, minus anything that would echo a stray argument's text. */
function describeParseError(err: unknown): string {
  const code = err instanceof Error && 'code' in err ? err.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    // The positional may be a value pasted in the wrong place (a secret, even): don't repeat it.
    return 'unexpected argument: pack takes only --flags (did a flag lose its name or a value need quoting?)';
  }
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    // Node's text is "Unknown option '--name'" (without any =value part); keep just the name.
    const m = /'(-[^'=]*)/.exec(message);
    return `unknown flag ${m?.[1] ?? ''}`.trimEnd();
  }
  // ERR_PARSE_ARGS_INVALID_OPTION_VALUE: missing or ambiguous value; Node names only the flag.
  return message.split('\n')[0] ?? message;
}

export function parsePackArgs(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false, tokens: true });
  } catch (err) {
    throw usageError(describeParseError(err));
  }
  const { values, tokens } = parsed;
  if (values.help === true) return { kind: 'help' };

  // parseArgs lets the last of repeated flags win; for a secrets tool a silent override is a trap.
  const seen = new Set<string>();
  for (const t of tokens) {
    if (t.kind !== 'option' || t.name === 'recipient') continue;
    if (seen.has(t.name)) throw usageError(`--${t.name} given more than once`);
    seen.add(t.name);
  }

  if (values['revoke-from'] !== undefined) {
    const conflicting = [...seen].filter((n) => n !== 'revoke-from' && n !== 'out');
    if (values.recipient !== undefined) conflicting.unshift('recipient');
    if (conflicting.length > 0) {
      throw usageError(`--revoke-from takes only --out; remove ${conflicting.map((n) => `--${n}`).join(', ')}`);
    }
    return { kind: 'revoke', from: values['revoke-from'], out: values.out };
  }

  const kmsKeyId = values['kms-key-id'];
  if (kmsKeyId !== undefined && values.recipient !== undefined) {
    throw usageError('--kms-key-id and --recipient are exclusive: an artifact is either a KMS envelope or an age file');
  }
  if (values['sign-kms-key-id'] !== undefined && values['sign-key'] !== undefined) throw usageError('--sign-key and --sign-kms-key-id are exclusive');
  const missing = (['payload', 'recipient', 'identity', 'environment'] as const).filter(
    (n) => values[n] === undefined && !(n === 'recipient' && kmsKeyId !== undefined),
  );
  if (missing.length > 0) {
    // The message keeps the flag names alone; USAGE, printed next, shows --kms-key-id as the alternative.
    throw usageError(`missing required flag${missing.length > 1 ? 's' : ''} ${missing.map((n) => `--${n}`).join(', ')}`);
  }
  const { payload, identity, environment } = values;
  const recipient = values.recipient ?? [];
  if (payload === undefined || identity === undefined || environment === undefined) {
    throw new Error('unreachable: required flags were checked above');
  }
  return {
    kind: 'pack',
    payloadPath: payload,
    recipients: recipient,
    kmsKeyId,
    signKmsKeyId: values['sign-kms-key-id'],
    identity,
    environment,
    revision: values.revision,
    packedAt: values['packed-at'] === undefined ? undefined : parsePackedAt(values['packed-at']),
    allowFuturePackedAt: values['allow-future-packed-at'] === true,
    ttlSeconds: values.ttl === undefined ? undefined : parseTtl(values.ttl),
    signKeyPath: values['sign-key'],
    armor: values.armor === true,
    out: values.out,
  };
}
