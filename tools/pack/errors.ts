import { errnoCode } from '../../common/display.js';

/**
 * The one error type `clef-agent pack` reports to its user. Its message is written to stderr as is,
 * so every message is composed here in pack/ from flag names, key names and file paths — never from
 * payload values, key material, or third-party error text that might quote them.
 */
export class PackError extends Error {
  /** 2: the input (flags, files, payload, key) is wrong. 1: something failed while doing the work. */
  readonly exitCode: 1 | 2;
  /** Print the usage text after the message (flag mistakes, not payload mistakes). */
  readonly showUsage: boolean;

  constructor(message: string, options: { exitCode?: 1 | 2; showUsage?: boolean } = {}) {
    super(message);
    this.name = 'PackError';
    this.exitCode = options.exitCode ?? 2;
    this.showUsage = options.showUsage ?? false;
  }
}

/** A short, value-free reason for a failed file operation (fs messages are fine, but codes are shorter). */
export function fsReason(err: unknown): string {
  const code = errnoCode(err);
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    default:
      return code ?? 'unreadable';
  }
}
