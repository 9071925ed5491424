/**
 * The constant-time token checks are tested structurally, never by timing: a spy on
 * `crypto.timingSafeEqual` sees every comparison src/http/auth.ts makes. Registers the spy in a
 * `before` hook (propagated to `import { timingSafeEqual } from 'node:crypto'` bindings, which is
 * why auth.ts is imported only after it) and removes it in `after`.
 */
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, mock } from 'node:test';
import type * as AuthModule from '../../src/http/auth.js';

/** Returns the auth module, loaded once the spy is in place (read it inside tests). */
export function authUnderTimingSpy(onCompare: (a: Buffer, b: Buffer) => void): { readonly auth: () => typeof AuthModule } {
  let auth: typeof AuthModule | undefined;
  before(async () => {
    const original = crypto.timingSafeEqual;
    mock.method(crypto, 'timingSafeEqual', (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      onCompare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
      return original(a, b);
    });
    syncBuiltinESMExports();
    auth = await import('../../src/http/auth.js');
  });
  after(() => {
    mock.restoreAll();
    syncBuiltinESMExports();
  });
  return {
    auth: () => {
      if (auth === undefined) throw new Error('the auth module is loaded in the before hook');
      return auth;
    },
  };
}
