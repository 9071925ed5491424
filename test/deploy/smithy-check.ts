/**
 * A deployment file checked against an AWS API's request shape: the AWS SDK's own runtime schema of
 * the request (e.g. `RegisterTaskDefinitionRequest$` from @aws-sdk/client-ecs), generated from the
 * service's Smithy model and read through @smithy/core's NormalizedSchema. The SDK's TypeScript
 * types would check field names and types at compile time only, and a hand-written schema would
 * check what we believed; this is the service model as AWS ships it, so a misspelt field, a string
 * where the service wants a number, or a missing required member fails.
 */
import type { NormalizedSchema } from '@smithy/core/schema';

/** The members a structure schema marks required: its first N members (N is the tuple's 7th entry). */
export function requiredMembers(ns: NormalizedSchema): string[] {
  const raw = ns.getSchema() as unknown;
  if (!Array.isArray(raw) || typeof raw[6] !== 'number' || !Array.isArray(raw[4])) return [];
  return (raw[4] as string[]).slice(0, raw[6]);
}

/** Every problem of `value` against `ns`, each with its JSON path. */
export function check(ns: NormalizedSchema, value: unknown, path: string): string[] {
  const problems: string[] = [];
  const want = (ok: boolean, type: string): string[] => (ok ? [] : [`${path}: expected ${type}, got ${JSON.stringify(value)}`]);
  if (ns.isStructSchema()) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return want(false, `a ${ns.getName() ?? 'structure'} object`);
    const members = ns.getMemberSchemas();
    for (const [k, v] of Object.entries(value)) {
      const m = members[k];
      if (!m) problems.push(`${path}.${k}: not a member of ${ns.getName()}`);
      else problems.push(...check(m, v, `${path}.${k}`));
    }
    for (const r of requiredMembers(ns)) if (!(r in value)) problems.push(`${path}.${r}: required`);
    return problems;
  }
  if (ns.isListSchema()) {
    if (!Array.isArray(value)) return want(false, 'a list');
    value.forEach((v, i) => problems.push(...check(ns.getValueSchema(), v, `${path}[${i}]`)));
    return problems;
  }
  if (ns.isMapSchema()) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return want(false, 'a map');
    for (const [k, v] of Object.entries(value)) problems.push(...check(ns.getValueSchema(), v, `${path}.${k}`));
    return problems;
  }
  if (ns.isStringSchema()) return want(typeof value === 'string', 'a string');
  if (ns.isBooleanSchema()) return want(typeof value === 'boolean', 'a boolean');
  if (ns.isNumericSchema()) return want(typeof value === 'number' && Number.isInteger(value), 'an integer');
  return [`${path}: a ${ns.getName() ?? 'member'} kind this test does not check`];
}
