#!/usr/bin/env node
// The Node release the product ships on (SPEC §1: the current LTS line): the standalone binary is
// built from it and CI runs the suite on it. npm's `node` package provides it, installed once into
// .tmp/node-<version>/ and shared by everything that needs it (or SEA_NODE=/path/to/node of that
// version). Run directly, it installs it when missing and prints its path.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Newest release of the Node 26 line (the LTS line) that npm's `node` package has. */
export const LTS_NODE_VERSION = '26.10.0';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** The path of that node, installed first when missing; fails if it is another version. */
export function ltsNode() {
  const given = process.env.SEA_NODE;
  const prefix = join(root, '.tmp', `node-${LTS_NODE_VERSION}`);
  const node = given ?? join(prefix, 'node_modules', 'node', 'bin', 'node');
  if (given === undefined && !existsSync(node)) {
    console.error(`installing node@${LTS_NODE_VERSION} from npm into .tmp/`);
    execFileSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node@${LTS_NODE_VERSION}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  if (version !== `v${LTS_NODE_VERSION}`) throw new Error(`${node} is ${version}, expected v${LTS_NODE_VERSION}`);
  return node;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) console.log(ltsNode());
