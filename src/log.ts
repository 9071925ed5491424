import { pino, type Logger, type LoggerOptions } from 'pino';
import type { LogLevel } from './config/types.js';

export type { Logger };

/** Where log lines go: stdout (the agent), or stderr (exec mode, whose stdout is the child's). */
export type LogDestination = 'stdout' | 'stderr';

/**
 * JSON logs on stdout (or stderr). Code never passes secrets to the logger; redaction is the second line of
 * defence for field names that could carry one by mistake.
 */
export function createLogger(level: LogLevel, base: Record<string, string> = {}, to: LogDestination = 'stdout'): Logger {
  const options: LoggerOptions = {
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
  };
  return to === 'stdout' ? pino(options) : pino(options, pino.destination({ fd: 2 }));
}
