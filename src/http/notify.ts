/**
 * Change notification on the secrets routes (SPEC §10.2): every 200 carries a strong `ETag`; an
 * `If-None-Match` that matches the current one is answered 304 without producing the body (in JIT
 * mode: without a worker task); with `?wait=<seconds>` the request is parked until the artifact
 * changes (200, or the state's error) or the wait ends (304). The server's gates — token, then the
 * `wait` parameter, then the state — have run before anything here answers, and a parked request
 * is checked against the state again whenever it is woken: a 304 never reaches a client while the
 * artifact is revoked, expired or past its TTL, and a waiter never gets secrets after a revocation.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HTTP_LIMITS, LONG_POLL_MAX_SECONDS, LONG_POLL_MIN_SECONDS } from '../../common/limits.js';
import { ApiError } from '../errors.js';
import type { Clock, Timers } from '../refresh/timers.js';
import { EntityTags, ifNoneMatchHits, type Representation } from '../serving/etag.js';
import type { Body, ServingMode } from '../serving/mode.js';
import { send, sendError, sendNotModified } from './respond.js';
import { Waiters, type WakeReason, type Waiter } from './waiters.js';

/** One secrets-route request on its way to an answer. */
export interface SecretsExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** What a 200 would be a representation of (its tag's input besides the artifact). */
  readonly rep: Representation;
  /** The body as the mode makes it (may throw or reject with an ApiError). */
  readonly produce: () => Body | Promise<Body>;
  /** Answers an unexpected error (a bug): a parked request is answered outside the server's own chain. */
  readonly internal: (err: unknown) => void;
}

/** A parked request: the waiter it sits in, while it sits in one. */
interface Parked extends SecretsExchange {
  waiter?: Waiter | undefined;
  /** Its response's 'close' is watched (once, however often it parks again). */
  watched?: boolean;
}

export interface NotifierOptions {
  readonly mode: ServingMode;
  /** CLEF_AGENT_MAX_WAITERS. */
  readonly maxWaiters: number;
  readonly clock: Clock;
  readonly timers: Timers;
}

/**
 * One per agent, shared by its listeners (the waiter cap is the agent's): answers the secrets routes
 * with tags, conditions and long polls. `changed()` is told of every new revision and state change;
 * `close()` answers every waiter before the listeners drain.
 */
export class ChangeNotifier {
  readonly waiters: Waiters;
  private readonly tags = new EntityTags();
  private readonly mode: ServingMode;
  private readonly clock: Clock;
  private wakeQueued = false;
  /**
   * During a wake pass: the body each representation is being made with, shared by every waiter
   * that needs it. In JIT mode a thousand woken waiters are then a handful of worker tasks, not a
   * thousand (which would also overflow CLEF_AGENT_MAX_QUEUE and answer most of them 503).
   */
  private shared: Map<string, SharedBody> | undefined;

  constructor(o: NotifierOptions) {
    this.mode = o.mode;
    this.clock = o.clock;
    this.waiters = new Waiters(o.maxWaiters, o.clock, o.timers);
  }

  /**
   * A new revision, a revocation, an expiry: wake every waiter in one pass, once the refresh that
   * told us has finished applying (a microtask later), so they see the state it left.
   */
  changed(): void {
    if (this.wakeQueued) return;
    this.wakeQueued = true;
    queueMicrotask(() => {
      this.wakeQueued = false;
      this.shared = new Map();
      try {
        this.waiters.wakeAll();
      } finally {
        this.shared = undefined;
      }
    });
  }

  /** The agent stops: every waiter is answered now (304, or the state's error), and none is parked again. */
  close(): void {
    this.waiters.close();
  }

  /** Answer a secrets route whose token check passed. */
  answer(x: SecretsExchange): void | Promise<void> {
    const wait = waitSeconds(x.req.url ?? '');
    if (wait === INVALID_WAIT) return sendError(x.req, x.res, new ApiError('invalid_wait'));
    const condition = x.req.headers['if-none-match'];
    // The hot path: no condition, the body as the mode makes it, with its tag.
    if (condition === undefined) return this.produce(x, undefined);
    const deadline = wait === undefined ? undefined : this.clock() + wait * 1000;
    return this.conditional(x, condition, deadline);
  }

  /**
   * 304 when the condition matches the artifact servable now (parked instead when the client
   * waits), else the route's own answer: 200 with the new tag, or the state's error.
   */
  private conditional(x: SecretsExchange, condition: string, deadline: number | undefined): void | Promise<void> {
    const hash = this.mode.servableHash();
    // `*` matches when a current representation exists (RFC 9110 §13.1.2); whether one key exists
    // is only known by looking it up, so `*` on `:key` takes the route's own path (404 for a key
    // that does not exist, 304 after the lookup for one that does; never held by `?wait`).
    if (hash !== undefined && !(x.rep.route === 'secret' && condition.trim() === '*')) {
      const tag = this.tags.tag(hash, x.rep);
      if (ifNoneMatchHits(condition, tag)) {
        if (deadline === undefined) return sendNotModified(x.res, tag);
        const w = this.waiters.add(deadline, (why) => this.resume(x, condition, deadline, why));
        if (w === 'full') return sendError(x.req, x.res, new ApiError('overloaded'));
        if (w === 'closed') {
          x.res.shouldKeepAlive = false;
          return sendNotModified(x.res, tag);
        }
        this.park(x, w);
        return;
      }
    }
    return this.produce(x, condition);
  }

  private park(x: Parked, w: Waiter): void {
    x.waiter = w;
    // A waiting socket is quiet by design: the idle timeout would cut a wait longer than it.
    // The wait itself is bounded (LONG_POLL_MAX_SECONDS).
    x.req.socket.setTimeout(0);
    if (x.watched === true) return;
    x.watched = true;
    x.res.once('close', () => {
      if (x.waiter !== undefined) this.waiters.remove(x.waiter);
      x.waiter = undefined;
    });
  }

  /** Woken: answer (or park again when the artifact it holds is still the current one). */
  private resume(x: Parked, condition: string, deadline: number, why: WakeReason): void {
    x.waiter = undefined;
    if (x.res.destroyed || x.res.headersSent) return;
    x.req.socket.setTimeout(HTTP_LIMITS.socketIdleMs);
    // A stop answers now and closes the connection: the agent is going away.
    if (why === 'closing') x.res.shouldKeepAlive = false;
    try {
      const pending = this.conditional(x, condition, why === 'changed' ? deadline : undefined);
      if (pending) pending.catch(x.internal);
    } catch (err) {
      x.internal(err);
    }
  }

  /** The route's body (its state check included): 200 with its tag, or 304 when the condition matches that tag after all. */
  private produce(x: SecretsExchange, condition: string | undefined): void | Promise<void> {
    let body: Body | Promise<Body>;
    try {
      body = this.shared === undefined ? x.produce() : this.sharedBody(x);
    } catch (err) {
      return sendErrorOrThrow(x, err);
    }
    if (body instanceof Promise) {
      return body.then(
        (b) => this.sendTagged(x, b, condition),
        (err: unknown) => sendErrorOrThrow(x, err),
      );
    }
    return this.sendTagged(x, body, condition);
  }

  /**
   * In a wake pass: the first waiter for a representation makes the body, later ones share it.
   * The body is released once every response written from it has finished (or was abandoned).
   */
  private sharedBody(x: SecretsExchange): Body | Promise<Body> {
    const shared = this.shared as Map<string, SharedBody>;
    const key = representationKey(x.rep);
    let s = shared.get(key);
    if (s === undefined) {
      s = { made: x.produce(), users: 0, done: 0 };
      shared.set(key, s);
    }
    const entry = s;
    entry.users++;
    const share = (b: Body): Body => ({
      contentType: b.contentType,
      bytes: b.bytes,
      ciphertextHash: b.ciphertextHash,
      // Every user is counted before the body exists (the pass is synchronous, the body comes later).
      release: () => {
        if (++entry.done === entry.users) b.release?.();
      },
    });
    return entry.made instanceof Promise ? entry.made.then(share) : share(entry.made);
  }

  private sendTagged(x: SecretsExchange, body: Body, condition: string | undefined): void {
    const tag = body.ciphertextHash === undefined ? undefined : this.tags.tag(body.ciphertextHash, x.rep);
    // The body came from a refresh the request waited for, and the artifact is the one the client holds.
    if (condition !== undefined && tag !== undefined && ifNoneMatchHits(condition, tag)) {
      body.release?.();
      return sendNotModified(x.res, tag);
    }
    sendBody(x.req, x.res, body, tag);
  }
}

/** A body made once in a wake pass for every waiter on the same representation. */
interface SharedBody {
  readonly made: Body | Promise<Body>;
  users: number;
  done: number;
}

function representationKey(r: Representation): string {
  return JSON.stringify([r.route, r.key ?? null, r.plain === true, r.scope ?? null]);
}

/** An ApiError is an answer; anything else is a bug for the request handler to report. */
function sendErrorOrThrow(x: SecretsExchange, err: unknown): void {
  if (err instanceof ApiError) return sendError(x.req, x.res, err);
  throw err;
}

function sendBody(req: IncomingMessage, res: ServerResponse, body: Body, tag: string | undefined): void {
  if (body.release) {
    const release = body.release;
    // The client went away while the body was being made (a JIT decryption, a request-triggered
    // refresh): 'close' has already fired and would never call `release`, leaving the body unwiped.
    if (res.destroyed) {
      release();
      return;
    }
    // 'close' follows 'finish' for a completed response and also fires for an aborted one.
    res.once('close', release);
  }
  send(req, res, 200, body.contentType, body.bytes, tag === undefined ? undefined : ['ETag', tag]);
}

/** What `waitSeconds` returns for a `wait` parameter the API refuses (400 `invalid_wait`). */
export const INVALID_WAIT = -1;

/**
 * `?wait=<seconds>` from the request target: undefined when absent, INVALID_WAIT unless it is one
 * integer from LONG_POLL_MIN_SECONDS to LONG_POLL_MAX_SECONDS written in plain digits (no sign,
 * no leading zero, no unit, not repeated). Other query parameters are ignored, as before.
 */
export function waitSeconds(target: string): number | undefined {
  const q = target.indexOf('?');
  if (q < 0) return undefined;
  let found: number | undefined;
  for (const param of target.slice(q + 1).split('&')) {
    const eq = param.indexOf('=');
    const name = eq < 0 ? param : param.slice(0, eq);
    if (name !== 'wait') continue;
    if (found !== undefined) return INVALID_WAIT;
    const raw = eq < 0 ? '' : param.slice(eq + 1);
    if (!/^[1-9][0-9]{0,2}$/.test(raw)) return INVALID_WAIT;
    const n = Number(raw);
    if (n < LONG_POLL_MIN_SECONDS || n > LONG_POLL_MAX_SECONDS) return INVALID_WAIT;
    found = n;
  }
  return found;
}
