import { pino, type Logger } from 'pino';
import type { LogLevel } from './config/types.js';

export type { Logger };

/**
 * JSON logs on stdout. Code never passes secrets to the logger; redaction is the second line of
 * defence for field names that could carry one by mistake.
 */
export function createLogger(level: LogLevel, base: Record<string, string> = {}): Logger {
  return pino({
    level,
    base: { name: 'clef-agent', ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'token',
        '*.token',
        'authorization',
        '*.authorization',
        'headers.authorization',
        'req.headers.authorization',
        'ageKey',
        '*.ageKey',
        'value',
        '*.value',
        'secrets',
        '*.secrets',
      ],
      censor: '[redacted]',
    },
    formatters: { level: (label) => ({ level: label }) },
  });
}
