// Type-aware lint for the whole project. Generated output and dependencies are ignored.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/**
 * The architecture as import rules. `src/` is the main thread and `workers/` the pool: neither
 * imports the other, both import `common/` (what crosses the thread line, and helpers both sides
 * use). `tools/` (the pack and loadtest commands) and `common/` stand alone. `emulators/` (local
 * KMS, STS, S3, git hosts, proxy, TLS) is test infrastructure that tests and benchmarks both start;
 * nothing shipped imports it, and benchmarks never import the tests themselves.
 */
const BOUNDARIES = {
  src: ['workers', 'test', 'bench', 'emulators'],
  workers: ['src', 'tools', 'test', 'bench', 'emulators'],
  common: ['src', 'workers', 'tools', 'test', 'bench', 'emulators'],
  tools: ['src', 'workers', 'test', 'bench', 'emulators'],
  emulators: ['src', 'workers', 'tools', 'test', 'bench'],
  bench: ['test'],
  client: ['src', 'workers', 'common', 'tools', 'test', 'bench', 'emulators'],
};
const WHY = {
  src: 'the main thread never imports worker code: send the pool a task (common/protocol.ts) or move shared code to common/',
  workers: 'worker code never imports the main thread: move shared code to common/',
  common: 'common/ is imported by both threads and the tools, so it imports none of them',
  tools: 'the CLI tools stand alone: share code through common/',
  emulators: 'emulators speak the external services’ protocols and import no agent code',
  bench: 'benchmarks start emulators (emulators/), never test helpers',
  client: 'the client (clef-agent/client) is built and shipped on its own: it imports only its own files and node: built-ins',
};
/** Folders that ship without runtime dependencies: only relative imports and node: built-ins. */
const NO_PACKAGES = new Set(['client']);
const boundaryRules = Object.entries(BOUNDARIES).map(([folder, forbidden]) => ({
  files: [`${folder}/**/*.{ts,cts}`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...forbidden.map((f) => ({ regex: `^(\\.\\./)+${f}(/|$)`, message: `${folder}/ must not import ${f}/: ${WHY[folder]}.` })),
          ...(NO_PACKAGES.has(folder) ? [{ regex: '^(?!node:|\\.)', message: `${folder}/ must not import packages: ${WHY[folder]}.` }] : []),
        ],
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'dist-bin/**', 'dist-lambda/**', 'node_modules/**', 'bench/results/**', 'coverage/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // The scripts are plain .mjs outside every tsconfig: the default project takes them (its file cap, a speed guard, raised to fit them).
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'scripts/*.mjs'], maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 16 },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      'no-console': 'error',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.mjs'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-floating-promises': 'off' },
  },
  ...boundaryRules,
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: globals.node },
  },
);
