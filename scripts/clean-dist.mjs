#!/usr/bin/env node
// Removes dist/ so a production build (npm run build:prod) holds only what tsconfig.build.json
// compiles, never test, bench or emulator output left over from `npm run build`.
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
