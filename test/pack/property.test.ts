/**
 * Properties: any valid SPEC §2.1 payload survives pack → age-encryption decrypt unchanged (binary
 * and armored, object or JSON-text input); any payload with one bad leaf is refused without the
 * leaf's value appearing in the message; pack refuses exactly the payloads the agent refuses.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { PackError, packArtifact, type PackPayload } from '../../tools/pack/index.js';
import { parsePayloadJson } from '../../tools/pack/payload.js';
import { parsePayload } from '../../workers/payload.js';
import { ageBytes, decryptWithTypage, sha256Hex } from './helpers.js';

/** Arbitrary strings, full Unicode including lone surrogates, plus the keys that tempt prototype bugs. */
const name = fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', ''));
const value = fc.string({ unit: 'binary', maxLength: 64 });
const flat = fc.dictionary(name, value, { maxKeys: 8 });
const nested = fc.dictionary(name, fc.dictionary(name, value, { maxKeys: 6 }), { maxKeys: 5 });
const payloadArb: fc.Arbitrary<PackPayload> = fc.oneof(flat, nested);

test('property: valid payloads round-trip through pack and age-encryption decrypt', async () => {
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  await fc.assert(
    fc.asyncProperty(payloadArb, fc.boolean(), fc.boolean(), async (payload, armor, asText) => {
      const input = asText ? JSON.stringify(payload) : payload;
      const { artifact } = await packArtifact({ payload: input, recipients: [recipient], identity: 'i', environment: 'e', armor });
      assert.equal(artifact.ciphertextHash, sha256Hex(artifact.ciphertext));
      const text = await decryptWithTypage(identity, ageBytes(artifact), armor);
      assert.equal(text, JSON.stringify(payload));
      assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(payload)));
    }),
    { numRuns: 150 },
  );
});

/**
 * Values that are invalid where they are put, built around a marker so a leak would be visible.
 * In a namespace anything but a string is wrong; at the top level an object is a (valid) namespace,
 * so only non-object values are.
 */
const marker = fc.string({ minLength: 12, maxLength: 40, unit: 'grapheme-ascii' }).map((s) => `SECRET<${s}>`);
const badInNamespace = (m: string): unknown[] => [[m], { deeper: m }, null, true, 42, { a: [m, { b: m }] }];
const badAtTop = (m: string): unknown[] => [[m], null, false, 3.5, [{ k: m }]];

test('property: a payload with one misplaced non-string value is refused without echoing values', async () => {
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const scenario = fc.record({
    ns: name.filter((n) => n !== 'OK'),
    key: name.filter((n) => n !== 'OK'),
    secret: marker,
    inNamespace: fc.boolean(),
    pick: fc.nat(),
  });
  await fc.assert(
    fc.asyncProperty(scenario, async ({ ns, key, secret, inNamespace, pick }) => {
      const choices = inNamespace ? badInNamespace(secret) : badAtTop(secret);
      const leaf = choices[pick % choices.length];
      // Written as JSON text, the form that lets `__proto__` be an ordinary key (JSON.parse makes
      // it an own property); the valid sibling holds the secret too.
      const text = inNamespace
        ? `{${JSON.stringify(ns)}:{${JSON.stringify(key)}:${JSON.stringify(leaf)},"OK":${JSON.stringify(secret)}}}`
        : `{${JSON.stringify(ns)}:${JSON.stringify(leaf)},"OK":{"K":${JSON.stringify(secret)}}}`;
      await assert.rejects(packArtifact({ payload: text, recipients: [recipient], identity: 'i', environment: 'e' }), (err: unknown) => {
        assert.ok(err instanceof PackError);
        assert.equal(err.exitCode, 2);
        assert.ok(!err.message.includes(secret), `message leaks the value: ${err.message}`);
        return true;
      });
    }),
    { numRuns: 150 },
  );
});

test('property: pack refuses exactly the payload texts the agent refuses, with the same message', () => {
  // Any JSON value, and values near the valid shapes (one or two levels of strings and others).
  const leaf = fc.oneof(value, fc.constant(null), fc.boolean(), fc.integer(), fc.array(value, { maxLength: 2 }));
  const near = fc.dictionary(
    name,
    fc.oneof(leaf, fc.dictionary(name, fc.oneof(value, value, leaf, fc.dictionary(name, value, { maxKeys: 2 })), { maxKeys: 4 })),
    {
      maxKeys: 5,
    },
  );
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), near, flat, nested), (v) => {
      const text = JSON.stringify(v);
      const agent = parsePayload(Buffer.from(text, 'utf8'));
      let packMessage: string | undefined;
      try {
        parsePayloadJson(text);
      } catch (err) {
        assert.ok(err instanceof PackError);
        packMessage = err.message;
      }
      if ('ok' in agent) assert.equal(`the decrypted ${packMessage ?? '(pack accepted it)'}`, agent.message);
      else assert.equal(packMessage, undefined, 'pack refused a payload the agent accepts');
    }),
    { numRuns: 500 },
  );
});
