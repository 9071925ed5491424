/**
 * `clef-agent pack --revoke-from`: the kill switch of SPEC §4.3. The agent acts on `revokedAt`
 * before any other check, so this needs no keys: it copies an artifact and adds the field.
 * `revokedAt` is outside the signing payload (§2.2), so the copy still carries a valid signature.
 */

import { readFile } from 'node:fs/promises';
import { ARTIFACT_FIELDS } from '../../common/artifact.js';
import { PackError, fsReason } from './errors.js';

/** The revoked copy of an artifact's JSON text, formatted like pack's own output. */
function revokeArtifactJson(text: string, revokedAt: Date): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new PackError('--revoke-from file is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new PackError('--revoke-from file is not a JSON object');
  }
  const source = new Map(Object.entries(parsed));
  source.set('revokedAt', revokedAt.toISOString());
  const entries: [string, unknown][] = [];
  // SPEC §2 table order; fields the table does not know keep their place after these.
  for (const name of ARTIFACT_FIELDS) {
    if (source.has(name)) entries.push([name, source.get(name)]);
    source.delete(name);
  }
  entries.push(...source);
  // fromEntries defines own properties, so even a `__proto__` field is copied as data.
  return JSON.stringify(Object.fromEntries(entries), null, 2) + '\n';
}

export async function revokeArtifactFile(path: string, revokedAt: Date): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PackError(`cannot read --revoke-from file ${path}: ${fsReason(err)}`);
  }
  return revokeArtifactJson(text, revokedAt);
}
