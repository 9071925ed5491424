/**
 * The worker pool as the refresh loop and JIT mode see it, answering scripted results instead of
 * fetching and decrypting: the unit tests drive what "the source" says, the real Refresher and the
 * real modes do the rest. Snapshots are built by the workers' own serializer, so the modes serve
 * real bodies.
 */
import type {
  ArtifactMeta,
  LoadResult,
  LoadTask,
  RollbackState,
  ServeBatchTask,
  ServeResult,
  ServeTask,
  Task,
  TaskFailure,
  TaskResults,
} from '../../common/protocol.js';
import type { BatchOptions, RunOptions } from '../../src/pool.js';
import type { RefreshPool } from '../../src/refresh/refresher.js';
import { buildSnapshot, parsePayload } from '../../workers/payload.js';
import { taskFailure } from '../../common/task-failure.js';

/** What the next load answers; `'hang'` never answers until `release`. */
export type SourceAnswer = LoadResult | 'hang';

export class ScriptedPool implements RefreshPool {
  readonly size = 1;
  readonly loads: LoadTask[] = [];
  readonly serves: ServeTask[] = [];
  /** The deadline each task was run with, in order. */
  readonly deadlines: Array<[Task['type'], number | undefined]> = [];
  /** Disk-cache purges asked for. */
  purges = 0;
  recycled = 0;
  /** The source's behaviour, asked once per load (a fresh result each time: modes wipe what they drop). */
  source: (task: LoadTask) => SourceAnswer = () => taskFailure('fetch_failed', 'no source scripted');
  /** The JIT tasks as the batcher formed them (one per `runBatch`), before they are split into `serves`. */
  readonly batches: Array<ServeTask | ServeBatchTask> = [];
  /** JIT requests, one ServeTask each, whether they came alone or in a batch. */
  serve: (task: ServeTask) => ServeResult | Promise<ServeResult> = () => taskFailure('internal', 'no serve answer scripted');
  private hung: Array<(r: LoadResult) => void> = [];

  run<T extends Task>(task: T, options?: RunOptions): Promise<TaskResults[T['type']]> {
    this.deadlines.push([task.type, options?.deadlineMs]);
    return this.answer(task) as Promise<TaskResults[T['type']]>;
  }

  /** JIT admission: the scripted pool never fills up. */
  admit(): TaskFailure | undefined {
    return undefined;
  }

  /** A batch answered request by request through `serve` (deadlines recorded per request, as `run` records them). */
  runBatch(task: ServeTask | ServeBatchTask, options: BatchOptions): Promise<ServeResult>[] {
    this.batches.push(task);
    const requests = task.type === 'serve' ? [task.request] : task.requests;
    return requests.map(async (request) => {
      this.deadlines.push(['serve', options.deadlineMs]);
      const one: ServeTask = { type: 'serve', artifact: task.artifact, request };
      this.serves.push(one);
      return this.serve(one);
    });
  }

  recycle(): void {
    this.recycled++;
  }

  /** Loads waiting on a hanging source. */
  get hanging(): number {
    return this.hung.length;
  }

  /** The hanging source finally answers every load that waits on it. */
  release(answer: () => LoadResult): void {
    for (const resolve of this.hung.splice(0)) resolve(answer());
  }

  /** The rollback state file as the workers would hold it (tasks with CLEF_AGENT_CACHE_PATH only). */
  storedState: RollbackState | null = null;
  readonly stateWrites: RollbackState[] = [];

  private async answer(task: Task): Promise<TaskResults[keyof TaskResults]> {
    switch (task.type) {
      case 'load': {
        this.loads.push(task);
        const a = this.source(task);
        if (a !== 'hang') return a;
        return new Promise<LoadResult>((resolve) => this.hung.push(resolve));
      }
      case 'serve':
        this.serves.push(task);
        return this.serve(task);
      case 'serveBatch':
        return taskFailure('internal', 'JIT batches go through runBatch');
      case 'purgeCache':
        this.purges++;
        return { ok: true };
      case 'checkKey':
        return { ok: true };
      case 'readState':
        return { ok: true, state: this.storedState };
      case 'writeState':
        this.storedState = task.state;
        this.stateWrites.push(task.state);
        return { ok: true };
    }
  }
}

export interface MetaOptions {
  readonly packedAtMs: number;
  readonly expiresAtMs?: number;
  readonly encryption?: 'age' | 'kms';
}

export function meta(revision: string, o: MetaOptions): ArtifactMeta {
  return {
    identity: 'api',
    environment: 'production',
    revision,
    packedAt: new Date(o.packedAtMs).toISOString(),
    packedAtMs: o.packedAtMs,
    expiresAt: o.expiresAtMs === undefined ? undefined : new Date(o.expiresAtMs).toISOString(),
    expiresAtMs: o.expiresAtMs,
    ciphertextHash: `sha256-${revision}`,
    signed: false,
    encryption: o.encryption ?? 'age',
  };
}

/** A cached-mode load: the payload decrypted into a fresh snapshot. */
export function loaded(m: ArtifactMeta, payload: unknown): LoadResult {
  const parsed = parsePayload(Buffer.from(JSON.stringify(payload)));
  if (!('kind' in parsed)) throw new Error(`bad test payload: ${parsed.message}`);
  return { ok: true, outcome: 'loaded', meta: m, snapshot: buildSnapshot(parsed), marker: `"${m.revision}"`, bytesHash: `bytes-${m.revision}` };
}

/** A JIT load: the artifact verified and kept encrypted. */
export function verified(m: ArtifactMeta, keyCount: number): LoadResult {
  return {
    ok: true,
    outcome: 'verified',
    meta: m,
    artifact: { ciphertextHash: m.ciphertextHash, ageFile: new Uint8Array(0) },
    keyCount,
    marker: `"${m.revision}"`,
    bytesHash: `bytes-${m.revision}`,
  };
}
