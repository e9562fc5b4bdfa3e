/**
 * SyncService, as in the seed: initialize(terminalId), performFullSync(),
 * performIncrementalSync(), plus pause/resume, status and events. It owns the
 * schedule (interval or cron, tiers), the fast path for CRITICAL sales (it notices
 * other processes' commits through SQLite's data_version), the socket.io listener,
 * heartbeats, offline detection and recovery. Plain Node: no electron here.
 */
import { Cron } from 'croner';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { io, type Socket } from 'socket.io-client';
import { CATALOG, PRIORITY, pullable, type CatalogEntry, type WireRow } from '../../shared/catalog/index.js';
import { ChangesHint, SOCKET_EVENTS, SyncTrigger, type PullResponse, type PushResponse, type SocketReply, type TableCounts } from '../../shared/protocol.js';
import { FULL_SYNC_MIN_PRIORITY, minPriorityForCycle, tablePriority } from './cadence.js';
import { CentralClient, CentralError, NetworkError } from './central-client.js';
import { inFlight, type InFlight, type LocalStore, type OutgoingBatch } from './local-store.js';
import { nextBackoff } from '../../shared/backoff.js';
import { PushScheduler } from './push-scheduler.js';
import type { SyncConfig } from './sync-config.js';
import type { EngineStatus, SyncKind, SyncRunResult } from '../../shared/ipc.js';

export interface SyncEvents {
  statusChanged: [EngineStatus];
  syncStarted: [{ kind: SyncKind; trigger: string }];
  syncFinished: [SyncRunResult];
  progress: [{ kind: SyncKind; table: string; pulled: number }];
  triggerReceived: [SyncTrigger];
}

/** Serializes async work on one lane; a request while busy waits its turn. */
class Lane {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export class SyncService extends EventEmitter<SyncEvents> {
  readonly client: CentralClient;
  private terminalId = '';
  private connection: EngineStatus['connection'] = 'connecting';
  private paused = false;
  private stopped = false;
  private cycle = 0;
  private lastSyncAt: string | null = null;
  private lastError: string | null = null;
  private keyRefusal: CentralError | null = null;
  private activity: EngineStatus['activity'] = null;
  private readonly pushLane = new Lane();
  private readonly passLane = new Lane();
  private timers: NodeJS.Timeout[] = [];
  private cron: Cron | undefined;
  private socket: Socket | undefined;
  private lastDataVersion = -1;
  private recovering: NodeJS.Timeout | undefined;
  private recoveryDelay = 0;
  private statusTimer: NodeJS.Timeout | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private reportWanted = 0;
  private readonly pushes: PushScheduler;
  /** Tables central hinted at (sync:changes) not pulled yet. */
  private readonly hinted = new Set<string>();
  private pullingHinted = false;
  /** initialize() started the schedule (timers, watcher): commits are pushed as they come. */
  private scheduled = false;

  constructor(
    readonly store: LocalStore,
    readonly config: SyncConfig,
    private readonly log: Logger,
  ) {
    super();
    this.client = new CentralClient({ baseUrl: config.centralUrl, apiKey: config.apiKey });
    this.pushes = new PushScheduler(config.pushMode, config.promptDelayMs, {
      ready: () => !this.stopped && !this.paused && this.connection !== 'offline',
      hasPending: (minPriority) => this.store.hasPending(minPriority, Date.now()),
      nextAttemptAt: () => this.store.nextAttemptAt(Date.now()),
      push: (minPriority, urgent) => (urgent ? this.pushCritical() : this.pushOnly(minPriority, 'INCREMENTAL', 'commit')),
    });
  }

  /** Binds the engine to its terminal and starts the schedule, the watcher, heartbeats and the socket. */
  async initialize(terminalId: string, opts: { schedule?: boolean } = {}): Promise<void> {
    const known = this.store.getMeta('terminal_id');
    if (known && known !== terminalId) {
      throw new Error(`this POS database belongs to terminal ${known}, not ${terminalId}; use that id or a fresh database`);
    }
    this.store.setMeta('terminal_id', terminalId);
    this.terminalId = terminalId;
    const interrupted = this.store.closeInterruptedRuns();
    if (interrupted > 0) this.log.warn({ runs: interrupted }, 'the last run was interrupted (crash or kill); its changes are resent or re-pulled');
    this.lastSyncAt = this.store.getMeta('last_sync_at') ?? null;
    this.log.info({ terminalId, centralUrl: this.config.centralUrl, tables: this.store.tables.size }, 'sync engine initialized');
    if (opts.schedule === false) return;
    this.lastDataVersion = this.store.dataVersion();
    this.scheduled = true;
    this.every(this.config.watchIntervalMs, () => this.watch());
    this.every(this.config.heartbeatInterval * 1000, () => void this.heartbeat());
    this.every(this.config.failedRetryIntervalMs, () => {
      const n = this.store.retryFailed();
      if (n > 0) {
        this.log.info({ entries: n }, 'retrying failed outbox entries');
        void this.performIncrementalSync('retry-failed').catch(() => undefined);
      }
    });
    if (this.config.cron) {
      this.cron = new Cron(this.config.cron, () => void this.performIncrementalSync('cron').catch(() => undefined));
    } else {
      this.every(this.config.syncInterval * 1000, () => void this.performIncrementalSync('interval').catch(() => undefined));
    }
    if (this.config.realtime) this.connectSocket();
    void this.heartbeat();
    void this.performFullSync('startup').catch(() => undefined);
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Stops timers and the socket; a pass in flight finishes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pushes.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.cron?.stop();
    clearTimeout(this.recovering);
    clearTimeout(this.statusTimer);
    clearTimeout(this.reportTimer);
    this.socket?.disconnect();
    await Promise.all([this.pushLane.run(async () => undefined), this.passLane.run(async () => undefined)]);
  }

  pause(): void {
    this.paused = true;
    this.log.info('sync paused');
    this.emitStatus();
  }

  resume(): void {
    this.paused = false;
    this.log.info('sync resumed');
    this.emitStatus();
    void this.performIncrementalSync('resume').catch(() => undefined);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Central's refusal of this terminal's key in the last pass (null once a pass gets through). */
  get refusedKey(): CentralError | null {
    return this.keyRefusal;
  }

  // ------------------------------------------------------------------ passes

  /** Everything: push every tier, refresh conflicts, pull every table, retry paused tables. */
  performFullSync(trigger = 'manual'): Promise<SyncRunResult> {
    return this.passLane.run(() => this.pass('FULL', trigger, FULL_SYNC_MIN_PRIORITY));
  }

  /** The tiers due this cycle: CRITICAL and HIGH always, MEDIUM every 2nd, LOW every 5th. */
  performIncrementalSync(trigger = 'manual'): Promise<SyncRunResult> {
    return this.passLane.run(() => {
      this.cycle++;
      return this.pass('INCREMENTAL', trigger, minPriorityForCycle(this.cycle));
    });
  }

  /** Every pending change of every tier, pushed now without pulling (bootstrap catch-up, benchmarks). */
  pushPending(trigger = 'manual'): Promise<SyncRunResult> {
    return this.pushOnly(FULL_SYNC_MIN_PRIORITY, 'FULL', trigger);
  }

  /** CRITICAL changes only, at once (a completed sale). Does not wait for a running pull. */
  pushCritical(trigger = 'commit'): Promise<SyncRunResult> {
    return this.pushOnly(PRIORITY.CRITICAL, 'CRITICAL', trigger);
  }

  /** A push of what is pending from `minPriority` up, on the push lane, without a pull. */
  private pushOnly(minPriority: number, kind: SyncKind, trigger: string): Promise<SyncRunResult> {
    const started = Date.now();
    return this.pushLane.run(async () => {
      const r = await this.pushAll(minPriority, kind);
      this.emitStatus();
      return { kind, trigger, pushed: r.pushed, pulled: 0, conflicts: r.conflicts, failed: r.failed, durationMs: Date.now() - started, errors: r.errors };
    });
  }

  private async pass(kind: SyncKind, trigger: string, minPriority: number): Promise<SyncRunResult> {
    const started = Date.now();
    const errors: string[] = [];
    let pushed = 0;
    let pulled = 0;
    let conflicts = 0;
    let failed = 0;
    if (this.paused || this.stopped) {
      return { kind, trigger, pushed, pulled, conflicts, failed, durationMs: 0, errors: [this.stopped ? 'stopped' : 'paused'] };
    }
    const run = this.store.startRun(kind, trigger);
    this.emit('syncStarted', { kind, trigger });
    this.activity = { kind, pulled: 0, pushed: 0 };
    this.emitStatus();
    try {
      if (kind === 'FULL') {
        for (const table of this.store.pausedTables().keys()) this.store.unpauseTable(table); // try again
        this.store.purgeSynced(this.config.retentionMs);
      }
      const p = await this.pushLane.run(() => this.pushAll(minPriority, kind));
      pushed += p.pushed;
      conflicts += p.conflicts;
      failed += p.failed;
      errors.push(...p.errors);
      if (p.offline) throw new NetworkError(p.errors[p.errors.length - 1] ?? 'offline');
      if (p.refused) throw p.refused;
      if (kind === 'FULL') conflicts += await this.refreshConflicts();
      const tables = [...this.store.tables.values()]
        .map((t) => t.entry)
        .filter((e) => pullable(e) && tablePriority(e.priority) >= minPriority);
      const paused = this.store.pausedTables();
      for (const entry of tables) {
        if (paused.has(entry.table)) continue;
        const r = await this.pullTable(entry, kind);
        pulled += r.pulled;
        conflicts += r.conflicts;
        if (r.error) errors.push(r.error);
      }
      this.markOnline();
      this.lastSyncAt = new Date().toISOString();
      this.store.setMeta('last_sync_at', this.lastSyncAt);
      this.lastError = errors[0] ?? null;
      this.keyRefusal = null;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      errors.push(message);
      this.lastError = message;
      if (err instanceof NetworkError) this.markOffline(message);
      else if (err instanceof CentralError && err.refusesKey) {
        // A settings problem, not a bug: one line saying so (a stack trace would point at our HTTP client).
        this.keyRefusal = err;
        this.log.error({ status: err.status, code: err.code, err: message, kind, trigger }, 'central refused this terminal\'s key');
      } else this.log.error({ err, kind, trigger }, 'sync pass failed');
    } finally {
      this.activity = null;
    }
    const result: SyncRunResult = { kind, trigger, pushed, pulled, conflicts, failed, durationMs: Date.now() - started, errors };
    this.store.finishRun(run, result);
    this.log.info({ kind, trigger, pushed, pulled, conflicts, failed, durationMs: result.durationMs, errors: errors.length }, 'sync finished');
    this.emit('syncFinished', result);
    this.emitStatus();
    // A pass pushes what was captured when it began: what came after goes now, not at the next interval.
    if (this.scheduled) this.pushes.noteCommit();
    return result;
  }

  /** Pushes batches until nothing at or above `minPriority` is ready. */
  private async pushAll(
    minPriority: number,
    kind: SyncKind,
  ): Promise<{ pushed: number; conflicts: number; failed: number; errors: string[]; offline: boolean; refused?: CentralError }> {
    let pushed = 0;
    let conflicts = 0;
    let failed = 0;
    const errors: string[] = [];
    if (this.paused || this.stopped) return { pushed, conflicts, failed, errors, offline: false };
    // What was captured when the pass began: a POS writing on and on cannot keep a pass alive.
    this.store.promote();
    const upToId = this.store.lastEntryId();
    const build = (busy?: InFlight) =>
      this.store.nextBatch({ limit: this.config.batchSize, minPriority, now: Date.now(), pausedTables: new Set(this.store.pausedTables().keys()), upToId, busy });
    let batch = build();
    /** The request of `batch` when it went out before the previous batch's answers were settled. */
    let posted: Promise<PushResponse> | undefined;
    for (let guard = 0; guard < 10_000; guard++) {
      failed += batch.invalid;
      if (batch.changes.length === 0) break;
      // While this batch is at central the next one is built (the request goes out first),
      // and it is sent as soon as this one is answered, before those answers are settled:
      // it holds none of this batch's groups or rows. Its entries are stamped as sent, so
      // if it never goes they wait, frozen, and go again as they are.
      let next: OutgoingBatch | null = null;
      let nextPosted: Promise<PushResponse> | undefined;
      const sending = this.sendBatch(batch, {
        posted,
        answered: () => {
          if (!next || next.changes.length === 0 || this.stopped || this.paused) return;
          nextPosted = this.post(next);
          nextPosted.catch(() => undefined);
        },
      });
      sending.catch(() => undefined);
      if (!this.stopped && !this.paused) {
        await new Promise((r) => setImmediate(r));
        next = build(inFlight(batch));
      }
      try {
        const r = await sending;
        pushed += r.synced;
        conflicts += r.conflicts;
        failed += r.failed;
        if (r.failed > 0) errors.push(`central refused ${r.failed} change(s); they are marked failed (see status)`);
        for (const t of r.paused) {
          errors.push(`${t}: schema differs from central's; sync of ${t} is paused`);
          this.log.error({ table: t }, 'schema mismatch: table paused');
        }
        if (this.activity) this.activity = { ...this.activity, pushed: this.activity.pushed + r.synced };
        this.markOnline();
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const n = this.recordFailure(batch, message);
        failed += n;
        errors.push(message);
        if (err instanceof NetworkError || (err instanceof CentralError && err.retryable)) {
          if (err instanceof NetworkError) this.markOffline(message);
          if (next) this.store.unsent(next);
          return { pushed, conflicts, failed, errors, offline: err instanceof NetworkError };
        }
        if (err instanceof CentralError && err.refusesKey) {
          // Every other batch would be refused the same way: stop, and let the pass say why.
          if (next) this.store.unsent(next);
          return { pushed, conflicts, failed, errors, offline: false, refused: err };
        }
        // A 4xx for the whole batch: the entries were marked; go on with the rest.
        this.log.error({ err: message, kind, changes: batch.changes.length }, 'push refused');
      }
      const stopping = this.stopped || this.paused;
      if (next && (next.changes.length > 0 || !next.deferred)) {
        batch = next;
        posted = nextPosted;
      } else if (stopping) {
        break;
      } else {
        // Everything left touched the batch just answered: build again now that its answers are in.
        batch = build();
        posted = undefined;
      }
      if (stopping && !posted) {
        this.store.unsent(batch);
        break;
      }
      // Stopping with a batch already at central: one more round takes its answer in, and builds nothing.
    }
    if (pushed + conflicts + failed > 0) this.reportSoon();
    return { pushed, conflicts, failed, errors, offline: false };
  }

  /**
   * Sends a batch and records the answers. A batch central refuses as a whole (a 4xx:
   * one change it cannot take) is split in halves until the bad change stands alone,
   * so one bad sale never holds back the good ones sent with it.
   */
  private async sendBatch(
    batch: OutgoingBatch,
    hooks: { posted?: Promise<PushResponse> | undefined; answered?: () => void } = {},
  ): Promise<{ synced: number; conflicts: number; failed: number; paused: string[] }> {
    try {
      const response = await (hooks.posted ?? this.post(batch));
      if (hooks.answered) {
        hooks.answered();
        await new Promise((r) => setImmediate(r)); // the next request goes out before these answers are settled
      }
      return this.store.recordPush(batch, response, this.config.maxClockDriftMs, {
        maxRetries: this.config.maxRetries,
        retryDelayMs: this.config.retryDelay,
        now: Date.now(),
      });
    } catch (err) {
      if (!(err instanceof CentralError) || err.retryable || err.status === 401 || err.status === 403 || batch.changes.length < 2) throw err;
      const mid = Math.ceil(batch.changes.length / 2);
      const total = { synced: 0, conflicts: 0, failed: 0, paused: [] as string[] };
      for (const half of [batch.changes.slice(0, mid), batch.changes.slice(mid)]) {
        try {
          const r = await this.sendBatch({ changes: half, cancelled: 0, invalid: 0 });
          total.synced += r.synced;
          total.conflicts += r.conflicts;
          total.failed += r.failed;
          total.paused.push(...r.paused);
        } catch (inner) {
          if (!(inner instanceof CentralError) || inner.retryable || inner.status === 401 || inner.status === 403) throw inner;
          total.failed += this.recordFailure({ changes: half, cancelled: 0, invalid: 0 }, inner.message);
        }
      }
      return total;
    }
  }

  /** The push request of a batch. */
  private post(batch: OutgoingBatch): Promise<PushResponse> {
    const schemaHashes: Record<string, string> = {};
    for (const c of batch.changes) schemaHashes[c.entry.entityType] = c.entry.schemaHash;
    return this.client.push({ terminalId: this.terminalId, changes: batch.changes.map((c) => c.change), schemaHashes });
  }

  private recordFailure(batch: OutgoingBatch, message: string): number {
    return this.store.recordPushFailure(batch, message, { maxRetries: this.config.maxRetries, retryDelayMs: this.config.retryDelay, now: Date.now() });
  }

  private async pullTable(entry: CatalogEntry, kind: SyncKind): Promise<{ pulled: number; conflicts: number; error?: string }> {
    let pulled = 0;
    let conflicts = 0;
    /**
     * A table this terminal holds none of starts from a snapshot of it (the live rows in
     * key order, then the change log): a first sync reads no change log and no
     * tombstones. Every other start follows the log from its beginning.
     */
    const fetchPage = (cursor: string | undefined, snapshot: boolean) =>
      this.client.pull({
        terminalId: this.terminalId,
        entityType: entry.entityType,
        cursor,
        start: cursor === undefined && snapshot ? 'snapshot' : undefined,
        limit: snapshot ? this.config.snapshotPageSize : this.config.pullPageSize,
        schemaHash: entry.schemaHash,
      });
    /** The following page, asked for while this one is written (central and the till work side by side). */
    let ahead: Promise<PullResponse> | null = null;
    for (let guard = 0; guard < 1_000_000; guard++) {
      if (this.stopped) break;
      let page: PullResponse;
      try {
        // A long capture log is moved in short steps now, not all inside the page's transaction.
        this.store.promote();
        const cursor = this.store.cursor(entry.table);
        page = await (ahead ?? fetchPage(cursor, cursor === undefined && !this.store.holdsSyncedRows(entry.table)));
      } catch (err) {
        ahead = null;
        if (err instanceof CentralError && err.code === 'SCHEMA_MISMATCH') {
          this.store.pauseTable(entry.table, err.message);
          this.log.error({ table: entry.table, err: err.message }, 'schema mismatch: table paused');
          return { pulled, conflicts, error: err.message };
        }
        if (err instanceof CentralError && err.code === 'CURSOR_AHEAD') {
          this.log.warn({ table: entry.table }, 'cursor ahead of central; pulling the table again from the start');
          this.store.resetCursor(entry.table);
          continue;
        }
        throw err;
      }
      ahead = null;
      if (page.hasMore && !this.stopped) {
        // The cursor this page ends at is where the table's cursor will be once it is applied;
        // if applying fails, the page fetched ahead is dropped and the next pass asks again.
        const next = fetchPage(page.cursor, page.snapshot === true);
        next.catch(() => undefined);
        ahead = next;
        await new Promise((r) => setImmediate(r)); // let the request go out before the page is written
      }
      const r = this.store.applyPage(entry, page.changes, page.cursor, this.config.maxClockDriftMs);
      pulled += r.applied;
      conflicts += r.conflicts;
      if (page.changes.length > 0) {
        if (this.activity) this.activity = { ...this.activity, table: entry.table, pulled: this.activity.pulled + r.applied };
        this.emit('progress', { kind, table: entry.table, pulled });
      }
      if (!page.hasMore) break;
    }
    return { pulled, conflicts };
  }

  /** Conflicts parked at central that a supervisor resolved there (or at another till). */
  private async refreshConflicts(): Promise<number> {
    const open = this.store.openConflicts().filter((c) => c.atCentral);
    if (open.length === 0) return 0;
    const resolved = await this.client.conflicts({ terminalId: this.terminalId, status: 'resolved', limit: 1000 });
    const byId = new Map(resolved.conflicts.map((c) => [c.conflictId, c]));
    let n = 0;
    for (const c of open) {
      const r = byId.get(c.conflictId);
      if (!r || !r.resolvedData || r.resolvedVersion === null) continue;
      this.store.applyResolution({ table: c.table, serverId: c.entityId }, r.resolvedData as WireRow, r.resolvedVersion, r.resolution === 'TERMINAL_WINS' && r.terminal === null, r.resolution ?? 'resolved');
      n++;
    }
    return n;
  }

  /**
   * A supervisor's decision: resolved at central (so every till converges), then
   * applied here. A conflict only seen locally is first pushed so central parks it.
   */
  async resolveConflict(conflictId: string, resolution: 'TERMINAL_WINS' | 'CENTRAL_WINS' | 'MANUAL_MERGE', resolvedData?: WireRow, resolvedBy?: string) {
    let conflict = this.store.openConflicts().find((c) => c.conflictId === conflictId);
    if (!conflict) throw new Error(`no open conflict ${conflictId}`);
    if (!conflict.atCentral) {
      await this.pushLane.run(() => this.pushAll(0, 'FULL'));
      const local = conflict;
      conflict = this.store.openConflicts().find((c) => c.atCentral && c.table === local.table && c.entityId === local.entityId);
      if (!conflict) throw new Error(`conflict ${conflictId} is not parked at central yet (is central reachable?)`);
    }
    const r = await this.client.resolve({
      conflictId: conflict.conflictId,
      resolution,
      ...(resolvedData ? { resolvedData } : {}),
      ...(resolvedBy ? { resolvedBy } : {}),
    });
    this.store.applyResolution({ table: conflict.table, serverId: conflict.entityId }, r.data as WireRow, r.version, r.deleted, resolution);
    this.emitStatus();
    return r;
  }

  /**
   * Central said these tables changed: pull them now, on the pass lane (after a pass
   * that runs). Hints arriving meanwhile are gathered into the next pull; a table
   * pulled is pulled to its end, so a hint for it while it was pulled costs one more
   * (usually empty) page, never a change.
   */
  private pullHinted(entityTypes: readonly string[]): void {
    for (const t of entityTypes) this.hinted.add(t);
    if (this.pullingHinted || this.stopped) return;
    this.pullingHinted = true;
    void this.passLane
      .run(async () => {
        while (this.hinted.size > 0 && !this.stopped && !this.paused) {
          const wanted = new Set(this.hinted);
          this.hinted.clear();
          const paused = this.store.pausedTables();
          for (const t of this.store.tables.values()) {
            if (!wanted.has(t.entry.entityType) || !pullable(t.entry) || paused.has(t.entry.table)) continue;
            try {
              const r = await this.pullTable(t.entry, 'INCREMENTAL');
              if (r.pulled > 0 || r.conflicts > 0) this.log.debug({ table: t.entry.table, pulled: r.pulled }, 'pulled on a change hint');
              this.markOnline();
            } catch (err) {
              // A hint is a hint: the next pass pulls what this one could not.
              if (err instanceof NetworkError) this.markOffline(err.message);
              else this.log.warn({ table: t.entry.table, err: err instanceof Error ? err.message : String(err) }, 'pull on a change hint failed');
              return;
            }
          }
          this.emitStatus();
        }
      })
      .finally(() => {
        this.pullingHinted = false;
        // A hint that came after the loop looked for the last time.
        if (this.hinted.size > 0 && !this.stopped && !this.paused) this.pullHinted([]);
      });
  }

  retryFailed(): number {
    const n = this.store.retryFailed();
    this.emitStatus();
    if (n > 0) void this.performIncrementalSync('retry-failed').catch(() => undefined);
    return n;
  }

  // ------------------------------------------------------------------ realtime, heartbeat, connectivity

  /**
   * Another process committed to the file: the pending counts changed (shown at once,
   * also while paused or offline), and CRITICAL changes are pushed at once.
   */
  private watch(): void {
    if (this.stopped) return;
    let v: number;
    try {
      v = this.store.dataVersion();
    } catch {
      return;
    }
    if (v === this.lastDataVersion) return;
    // What the POS wrote moves from the capture log into the outbox now, online or
    // not, so the log stays short (a busy file is tried again on the next tick).
    try {
      this.store.promote();
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not move captured writes into the outbox yet');
      return;
    }
    this.lastDataVersion = v;
    this.statusSoon();
    // Noted even while a push runs (it drains only what was captured before it began):
    // the scheduler pushes again after it.
    this.pushes.noteCommit();
  }

  private connectSocket(): void {
    const socket = io(this.config.centralUrl, {
      auth: { token: this.config.apiKey },
      transports: ['websocket'],
      reconnectionDelay: 1000,
      reconnectionDelayMax: this.config.reconnectMaxDelayMs,
      randomizationFactor: 0.5,
    });
    this.socket = socket;
    let connectedBefore = false;
    socket.on('connect', () => {
      retryDelay = 1000;
      socket.emit(SOCKET_EVENTS.register, { terminalId: this.terminalId }, (reply: SocketReply) => {
        if (!reply.ok) this.log.error({ error: reply.error }, 'socket registration refused');
      });
      this.log.info({ reconnect: connectedBefore }, 'socket connected');
      this.markOnline();
      // After every reconnect, a full checkpoint pass: triggers are hints, not a log.
      if (connectedBefore) void this.performFullSync('reconnect').catch(() => undefined);
      connectedBefore = true;
    });
    // socket.io reconnects by itself after a lost transport, but not after the server
    // closed the socket (a graceful restart) or refused the handshake: reconnect then too.
    let retry: NodeJS.Timeout | undefined;
    let retryDelay = 1000;
    const reconnectLater = () => {
      if (this.stopped || retry) return;
      const b = nextBackoff(retryDelay, 1000, this.config.reconnectMaxDelayMs, Math.random());
      retryDelay = b.level;
      retry = setTimeout(() => {
        retry = undefined;
        if (!this.stopped && !socket.connected) socket.connect();
      }, b.delay);
      retry.unref();
    };
    socket.on('disconnect', (reason) => {
      this.log.warn({ reason }, 'socket disconnected');
      if (reason === 'io server disconnect') reconnectLater();
    });
    socket.on('connect_error', (err) => {
      this.log.debug({ err: err.message }, 'socket connect failed');
      if (!socket.active) reconnectLater();
    });
    socket.on(SOCKET_EVENTS.changes, (payload: unknown) => {
      const h = ChangesHint.safeParse(payload);
      if (!h.success || h.data.terminalId !== this.terminalId) return;
      this.pullHinted(h.data.entityTypes);
    });
    socket.on(SOCKET_EVENTS.trigger, (payload: unknown) => {
      const t = SyncTrigger.safeParse(payload);
      if (!t.success || t.data.terminalId !== this.terminalId) return;
      this.emit('triggerReceived', t.data);
      const run = t.data.type === 'FULL' ? this.performFullSync(`trigger:${t.data.reason}`) : this.performIncrementalSync(`trigger:${t.data.reason}`);
      void run
        .then(() => {
          socket.emit(SOCKET_EVENTS.ack, { terminalId: this.terminalId, type: t.data.type, ...(t.data.triggerId ? { triggerId: t.data.triggerId } : {}) });
        })
        .catch(() => undefined);
    });
  }

  async heartbeat(): Promise<boolean> {
    try {
      await this.client.heartbeat({
        terminalId: this.terminalId,
        // A heartbeat that arrives is from a terminal that is online; syncing if a pass runs.
        status: this.activity ? 'SYNCING' : 'ONLINE',
        appVersion: this.config.appVersion,
        outbox: this.store.counts(),
        reportedAt: new Date().toISOString(),
        ...(this.lastSyncAt ? { lastSyncAt: this.lastSyncAt } : {}),
      });
      this.markOnline();
      return true;
    } catch (err) {
      if (err instanceof NetworkError) this.markOffline(err.message);
      else this.log.warn({ err: err instanceof Error ? err.message : err }, 'heartbeat refused');
      return false;
    }
  }

  /**
   * A report of the outbox soon after pushes changed it, so central's status shows
   * what the till holds now, not what it held at the last heartbeat (the heartbeat
   * timer stays the safety net).
   */
  private reportSoon(): void {
    if (this.stopped || !this.scheduled) return;
    // Debounced: after the last push of a burst (a sale, then its lower tiers a second
    // later), so the report sees them all gone; never held back more than 2 s.
    const now = Date.now();
    if (this.reportTimer) {
      if (now - this.reportWanted > 2000) return;
      clearTimeout(this.reportTimer);
    } else this.reportWanted = now;
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      if (!this.stopped && this.connection !== 'offline') void this.heartbeat();
    }, 300);
    this.reportTimer.unref();
  }

  private markOnline(): void {
    if (this.connection === 'online') return;
    const wasOffline = this.connection === 'offline';
    this.connection = 'online';
    this.store.setMode('ONLINE');
    clearTimeout(this.recovering);
    this.recovering = undefined;
    this.recoveryDelay = 0;
    this.log.info('central reachable: online');
    this.emitStatus();
    if (wasOffline) {
      // Entries that ran out of attempts while central was away go back to the queue.
      this.store.retryFailed();
      void this.performFullSync('back-online').catch(() => undefined);
    }
  }

  private markOffline(reason: string): void {
    if (this.connection !== 'offline') {
      this.connection = 'offline';
      this.store.setMode('OFFLINE');
      this.log.warn({ reason }, 'central unreachable: offline; sales keep being captured');
      this.emitStatus();
    }
    this.scheduleRecovery();
  }

  /** While offline, probe central with growing pauses (with jitter) until it answers. */
  private scheduleRecovery(): void {
    if (this.recovering || this.stopped) return;
    const b = nextBackoff(this.recoveryDelay, this.config.retryDelay, this.config.reconnectMaxDelayMs, Math.random());
    this.recoveryDelay = b.level;
    const delay = b.delay;
    this.recovering = setTimeout(() => {
      this.recovering = undefined;
      void this.heartbeat().then((ok) => {
        if (!ok && this.connection === 'offline') this.scheduleRecovery();
      });
    }, delay);
    this.recovering.unref();
  }

  // ------------------------------------------------------------------ status

  status(): EngineStatus {
    const counts = this.store.counts();
    const byTable = this.store.tableStamps();
    const tables: EngineStatus['tables'] = {};
    const totals: TableCounts = { pending: 0, failed: 0, synced: 0, conflicts: 0 };
    for (const e of CATALOG) {
      const c = counts[e.entityType];
      if (!c) continue;
      const cur = byTable.get(e.table);
      tables[e.entityType] = { ...c, lastPushAt: cur?.lastPushAt ?? null, lastPullAt: cur?.lastPullAt ?? null, paused: cur?.paused ?? null };
      totals.pending += c.pending;
      totals.failed += c.failed;
      totals.synced += c.synced;
      totals.conflicts += c.conflicts;
    }
    return {
      terminalId: this.terminalId,
      centralUrl: this.config.centralUrl,
      connection: this.connection,
      paused: this.paused,
      activity: this.activity,
      lastSyncAt: this.lastSyncAt,
      lastError: this.lastError,
      tables,
      totals,
      oldestPendingAt: totals.pending > 0 ? this.store.oldestPendingAt() : null,
    };
  }

  private emitStatus(): void {
    if (this.listenerCount('statusChanged') > 0) this.emit('statusChanged', this.status());
  }

  /** A status event soon: at most one per 250 ms while the POS writes, the last change always shown. */
  private statusSoon(): void {
    if (this.statusTimer || this.listenerCount('statusChanged') === 0) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      if (!this.stopped) this.emitStatus();
    }, 250);
    this.statusTimer.unref();
  }
}

