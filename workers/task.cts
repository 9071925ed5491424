/**
 * The task file piscina's own worker wrapper loads in each worker of the tsc build (src/pool.ts
 * names it; the bundles start workers on their entry and never use it).
 *
 * Why a CommonJS file: the wrapper loads a task file with require() first. Node 20 lets require()
 * load an ES module synchronously, and when the worker is terminated while that module graph is
 * being instantiated (a pool destroyed or replaced while its workers start: shutdown during
 * start-up, a guessed pool replaced, a stuck worker replaced) Node 20 aborts the whole process
 * ("v8::Module::IsGraphAsync must be used on an instantiated module"). Node 26 does not. import()
 * takes the asynchronous loader, which a termination simply stops. The wrapper awaits the
 * `default` of what require() returns, so exporting the promise of the handler is enough.
 */
export = import('./index.js').then((entry) => entry.default);
