import { inspect } from 'node:util';

/**
 * Secret bytes the main thread carries but never uses (the inline age key). The bytes sit in a
 * private field: logging, `JSON.stringify` or `util.inspect` of a config object shows `[sealed]`,
 * and only the pool unseals them, to hand to new workers.
 */
export class SealedBytes {
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  /** For the worker pool only: the bytes every new worker receives (structured-cloned). */
  unseal(): Uint8Array {
    return this.#bytes;
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** Zero the bytes (at shutdown). */
  wipe(): void {
    this.#bytes.fill(0);
  }

  toJSON(): string {
    return '[sealed]';
  }

  toString(): string {
    return '[sealed]';
  }

  [inspect.custom](): string {
    return 'SealedBytes [sealed]';
  }
}
