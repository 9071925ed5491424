/**
 * The package version, for `--version` and the start-up log: from the package.json embedded in the
 * standalone binary, else from the package's own package.json next to dist/.
 */
import { readFileSync } from 'node:fs';
import { SEA_ASSETS, seaTextAsset } from '../sea.js';

export function packageVersion(): string {
  const text = seaTextAsset(SEA_ASSETS.packageJson) ?? readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  const pkg = JSON.parse(text) as { version: string };
  return pkg.version;
}
