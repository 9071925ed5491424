/** What the OTLP tests expect of every export. */
import { packageVersion } from '../../src/cli/version.js';

/** The SPEC §7 resource of an agent started by `startPolled` (identity api, environment production, http source). */
export function expectedResource(agentId: string): Record<string, string> {
  return {
    'service.name': 'clef-agent',
    'service.version': packageVersion(),
    'service.instance.id': agentId,
    'clef.identity': 'api',
    'clef.environment': 'production',
    'clef.source.type': 'http',
  };
}
