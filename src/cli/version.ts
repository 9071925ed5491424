/**
 * The package version, for `--version` and the start-up log: set at build time by the production
 * bundle (scripts/build-prod.mjs), else from the package.json embedded in the standalone binary,
 * else from the package's own package.json next to dist/ (the tsc build).
 */
import { readFileSync } from 'node:fs';
import { SEA_ASSETS, seaTextAsset } from '../sea.js';

/** Replaced by the production bundle's `define`; undeclared (so `typeof` is "undefined") anywhere else. */
declare const __BUNDLED_PACKAGE_VERSION__: string | undefined;

export function packageVersion(): string {
  if (typeof __BUNDLED_PACKAGE_VERSION__ === 'string') return __BUNDLED_PACKAGE_VERSION__;
  const text = seaTextAsset(SEA_ASSETS.packageJson) ?? readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  const pkg = JSON.parse(text) as { version: string };
  return pkg.version;
}
