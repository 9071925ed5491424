/**
 * The `clef-agent pack` command line: parse the flags, read the payload and key files, run
 * `packArtifact` (pack/index.ts), and route the artifact and verify key to --out, stdout and
 * stderr. src/main.ts imports this module dynamically, so the agent's main thread never loads
 * age-encryption.
 */

import { readFile } from 'node:fs/promises';
import { SHORT_USAGE, USAGE, parsePackArgs, type PackCommand } from './args.js';
import { PackError, fsReason } from './errors.js';
import { packArtifact } from './index.js';
import { writeArtifactFile, writeText, type TextSink } from './output.js';
import { decodePayloadBytes, parsePayloadJson, type PackPayload } from './payload.js';
import { revokeArtifactFile } from './revoke.js';
import { readSigningKeyFile } from './sign.js';

export interface PackIO {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
}

async function readPayloadFile(path: string): Promise<PackPayload> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new PackError(`cannot read --payload file ${path}: ${fsReason(err)}`);
  }
  try {
    return parsePayloadJson(decodePayloadBytes(bytes));
  } finally {
    bytes.fill(0);
  }
}

async function runPackCommand(cmd: PackCommand, io: PackIO): Promise<void> {
  const payload = await readPayloadFile(cmd.payloadPath);
  const signingKey = cmd.signKeyPath === undefined ? undefined : await readSigningKeyFile(cmd.signKeyPath);
  const { json, verifyKey, artifact } = await packArtifact({
    payload,
    recipients: cmd.recipients,
    kmsKeyId: cmd.kmsKeyId,
    signKmsKeyId: cmd.signKmsKeyId,
    identity: cmd.identity,
    environment: cmd.environment,
    revision: cmd.revision,
    packedAt: cmd.packedAt,
    allowFuturePackedAt: cmd.allowFuturePackedAt,
    ttlSeconds: cmd.ttlSeconds,
    signingKey,
    armor: cmd.armor,
  });
  // The artifact takes stdout unless --out is given; the verify key goes to whichever stream is free.
  const keyStream = cmd.out === undefined ? io.stderr : io.stdout;
  if (cmd.out === undefined) {
    await writeText(io.stdout, json);
  } else {
    await writeArtifactFile(cmd.out, json);
    const what = `${artifact.identity}/${artifact.environment}, revision ${artifact.revision}`;
    await writeText(io.stderr, `clef-agent pack: wrote ${cmd.out} (${what})\n`);
  }
  if (verifyKey !== undefined) {
    await writeText(keyStream, `CLEF_AGENT_VERIFY_KEY=${verifyKey}\n`);
  } else {
    await writeText(
      io.stderr,
      'clef-agent pack: note: the artifact is unsigned; sign it with --sign-key (or --sign-kms-key-id) and set CLEF_AGENT_VERIFY_KEY on the agent, or anyone who can write the artifact can choose the secrets it serves\n',
    );
  }
}

/** The `clef-agent pack` command. Resolves to the exit code; the caller should set process.exitCode. */
export async function runPack(argv: readonly string[], io: PackIO): Promise<number> {
  try {
    const cmd = parsePackArgs(argv);
    if (cmd.kind === 'help') {
      await writeText(io.stdout, USAGE);
    } else if (cmd.kind === 'revoke') {
      const json = await revokeArtifactFile(cmd.from, new Date());
      if (cmd.out === undefined) await writeText(io.stdout, json);
      else {
        await writeArtifactFile(cmd.out, json);
        await writeText(io.stderr, `clef-agent pack: wrote revoked artifact ${cmd.out}\n`);
      }
    } else {
      await runPackCommand(cmd, io);
    }
    return 0;
  } catch (err) {
    if (err instanceof PackError) {
      await writeText(io.stderr, `clef-agent pack: ${err.message}\n${err.showUsage ? `\n${SHORT_USAGE}` : ''}`).catch(() => undefined);
      return err.exitCode;
    }
    // Not ours: print only the class of error. Third-party messages could quote their input.
    const name = err instanceof Error ? err.name : typeof err;
    const code = err instanceof Error && 'code' in err ? ` (${String(err.code)})` : '';
    await writeText(io.stderr, `clef-agent pack: failed: ${name}${code}\n`).catch(() => undefined);
    return 1;
  }
}
