/**
 * SyncService, as in the seed: initialize(terminalId), performFullSync(),
 * performIncrementalSync(), plus pause/resume, status and events. A thin front and the
 * scheduler: the schedule (interval or cron, tiers), the passes, the fast path for
 * CRITICAL sales (it notices other processes' commits through SQLite's data_version),
 * over three loops: the push loop (push-loop.ts), the pull loop (pull-loop.ts) and the
 * link to central (link.ts: socket, heartbeats, offline detection and recovery).
 * Plain Node: no electron here.
 */
import { Cron } from 'croner';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { PRIORITY, type WireRow } from '../../shared/catalog/index.js';
import type { SyncTrigger } from '../../shared/protocol.js';
import { FULL_SYNC_MIN_PRIORITY, minPriorityForCycle } from './cadence.js';
import { CentralClient, NetworkError, type CentralError } from './central-client.js';
import { CommitWatcher } from './commit-watcher.js';
import { engineStatus } from './engine-status.js';
import { failureOf } from './failure.js';
import { Link } from './link.js';
import type { LocalStore } from './store/index.js';
import type { StorePorts } from './ports.js';
import { PullLoop } from './pull-loop.js';
import { PushLoop, type PushOutcome } from './push-loop.js';
import { PushScheduler } from './push-scheduler.js';
import type { SyncConfig } from './sync-config.js';
import { tillReport } from './till-report.js';
import { runAudit } from './audit.js';
import { AUDIT_TRIGGER_REASON, trimAudit, type AuditReport } from '../../shared/audit-protocol.js';
import type { EngineStatus, SyncKind, SyncRunResult } from '../../shared/ipc.js';

export interface SyncEvents {
  statusChanged: [EngineStatus];
  syncStarted: [{ kind: SyncKind; trigger: string }];
  syncFinished: [SyncRunResult];
  progress: [{ kind: SyncKind; table: string; pulled: number }];
  triggerReceived: [SyncTrigger];
}

/**
 * The store's rooms as the engine's ports: the ONE place that wires them. Today the
 * LocalStore implements every port itself; once it is split into rooms this passes
 * store.base, store.capture, store.outbox, ... instead.
 */
export function portsOf(store: LocalStore): StorePorts {
  return {
    base: store.base,
    capture: store.capture,
    outbox: store.outbox,
    batches: store.batches,
    answers: store.answers,
    pages: store.pages,
    cursors: store.cursors,
    resync: store.resync,
    restored: store.restored,
    conflicts: store.conflicts,
    history: store.history,
  };
}

/** A push central answered, with nothing refused and nothing left for lack of it: the till is synced as of now. */
export function pushReachedCentral(p: PushOutcome): boolean {
  return !p.offline && p.refused === undefined && p.errors.length === 0 && p.pushed + p.conflicts > 0;
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
  private readonly ports: StorePorts;
  private readonly link: Link;
  private readonly pushLoop: PushLoop;
  private readonly pullLoop: PullLoop;
  private readonly pushes: PushScheduler;
  private readonly watcher: CommitWatcher;
  private terminalId = '';
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
  private statusTimer: NodeJS.Timeout | undefined;
  /** initialize() started the schedule (timers, watcher): commits are pushed as they come. */
  private scheduled = false;

  constructor(
    readonly store: LocalStore,
    readonly config: SyncConfig,
    private readonly log: Logger,
  ) {
    super();
    this.client = new CentralClient({ baseUrl: config.centralUrl, apiKey: config.apiKey });
    const ports = portsOf(store);
    this.ports = ports;
    const terminalId = () => this.terminalId;
    this.link = new Link({
      client: this.client,
      config,
      log,
      terminalId,
      report: () => tillReport(store, { syncing: this.activity !== null, lastSyncAt: this.lastSyncAt }),
      events: {
        online: (wasOffline) => {
          ports.capture.setMode('ONLINE');
          this.emitStatus();
          if (wasOffline) {
            // Entries that ran out of attempts while central was away go back to the queue.
            ports.outbox.retryFailed();
            void this.performFullSync('back-online').catch(() => undefined);
          }
        },
        offline: () => {
          ports.capture.setMode('OFFLINE');
          this.emitStatus();
        },
        reconnected: () => void this.performFullSync('reconnect').catch(() => undefined),
        trigger: (t) => {
          this.emit('triggerReceived', t);
          // HQ's Audit button: sync first (so what is compared is what should be in step), then audit and report.
          if (t.reason === AUDIT_TRIGGER_REASON) {
            return this.performFullSync(`trigger:${t.reason}`)
              .catch(() => undefined)
              .then(() => this.audit())
              .catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : err }, 'the audit HQ asked for failed'));
          }
          return t.type === 'FULL' ? this.performFullSync(`trigger:${t.reason}`) : this.performIncrementalSync(`trigger:${t.reason}`);
        },
        hinted: (entityTypes) => this.pullLoop.pullHinted(entityTypes),
      },
    });
    this.pushLoop = new PushLoop(ports, this.client, config, log, {
      terminalId,
      halted: () => this.stopped || this.paused,
      answered: (synced) => {
        if (this.activity) this.activity = { ...this.activity, pushed: this.activity.pushed + synced };
        this.link.markOnline();
      },
      unreachable: (reason) => this.link.markOffline(reason),
      settled: () => {
        if (this.scheduled) this.link.reportSoon();
      },
    });
    this.pullLoop = new PullLoop(ports, this.client, config, log, {
      terminalId,
      stopped: () => this.stopped,
      paused: () => this.paused,
      afterPasses: (fn) => this.passLane.run(fn),
      page: (kind, table, applied, pulled) => {
        if (this.activity) this.activity = { ...this.activity, table, pulled: this.activity.pulled + applied };
        this.emit('progress', { kind, table, pulled });
      },
      reached: () => this.link.markOnline(),
      unreachable: (reason) => this.link.markOffline(reason),
      changed: () => {
        this.emitStatus();
        // A hinted pull may have queued a row merged with central's (a MERGE conflict): it
        // goes up now, as a commit would send it, not with the next sale or the interval.
        if (this.scheduled) this.pushes.noteCommit();
      },
      resent: () => void this.pushPending('central-restored').catch(() => undefined),
    });
    this.pushes = new PushScheduler(config.pushMode, config.promptDelayMs, {
      ready: () => !this.stopped && !this.paused && this.link.connection !== 'offline',
      hasPending: (minPriority) => ports.outbox.hasPending(minPriority, Date.now()),
      nextAttemptAt: () => ports.outbox.nextAttemptAt(Date.now()),
      push: (minPriority, urgent) => (urgent ? this.pushCritical() : this.pushOnly(minPriority, 'INCREMENTAL', 'commit')),
    });
    // Another process committed: the pending counts changed (shown at once, also while
    // paused or offline), and the scheduler pushes (noted even while a push runs: it
    // drains only what was captured before it began, and the scheduler pushes again after it).
    this.watcher = new CommitWatcher(ports.capture, log, () => {
      this.statusSoon();
      this.pushes.noteCommit();
    });
  }

  /** Binds the engine to its terminal and starts the schedule, the watcher, heartbeats and the socket. */
  async initialize(terminalId: string, opts: { schedule?: boolean } = {}): Promise<void> {
    const { base, outbox, history } = this.ports;
    const known = base.getMeta('terminal_id');
    if (known && known !== terminalId) {
      throw new Error(`this POS database belongs to terminal ${known}, not ${terminalId}; use that id or a fresh database`);
    }
    base.setMeta('terminal_id', terminalId);
    this.terminalId = terminalId;
    const interrupted = history.closeInterruptedRuns();
    if (interrupted > 0) this.log.warn({ runs: interrupted }, 'the last run was interrupted (crash or kill); its changes are resent or re-pulled');
    this.lastSyncAt = base.getMeta('last_sync_at') ?? null;
    this.log.info({ terminalId, centralUrl: this.config.centralUrl, tables: base.tables.size }, 'sync engine initialized');
    if (opts.schedule === false) return;
    this.watcher.start();
    this.scheduled = true;
    this.every(this.config.watchIntervalMs, () => {
      if (!this.stopped) this.watcher.check();
    });
    this.every(this.config.heartbeatInterval * 1000, () => void this.heartbeat());
    this.every(this.config.failedRetryIntervalMs, () => {
      const n = outbox.retryFailed();
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
    if (this.config.realtime) this.link.connectSocket();
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
    clearTimeout(this.statusTimer);
    this.link.stop();
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

  /**
   * A push of what is pending from `minPriority` up, on the push lane, without a pull.
   * A push that did something is a run in History (the commit watcher's sales are the
   * CRITICAL runs there), and one that central took without an error is the last sync.
   */
  private pushOnly(minPriority: number, kind: SyncKind, trigger: string): Promise<SyncRunResult> {
    const started = Date.now();
    return this.pushLane.run(async () => {
      const startedAt = new Date().toISOString();
      const r = await this.pushLoop.pushAll(minPriority, kind);
      const result: SyncRunResult = { kind, trigger, pushed: r.pushed, pulled: 0, conflicts: r.conflicts, failed: r.failed, durationMs: Date.now() - started, errors: r.errors };
      if (r.pushed + r.conflicts + r.failed > 0 || r.errors.length > 0) {
        this.ports.history.recordRun(kind, trigger, startedAt, result, this.config.historyRuns);
      }
      if (pushReachedCentral(r)) this.markSynced();
      this.emitStatus();
      return result;
    });
  }

  /** Central took this till's changes (or a whole pass) just now: the status's "last sync". */
  private markSynced(): void {
    this.lastSyncAt = new Date().toISOString();
    this.ports.base.setMeta('last_sync_at', this.lastSyncAt);
  }

  private pushAll(minPriority: number, kind: SyncKind): Promise<PushOutcome> {
    return this.pushLane.run(() => this.pushLoop.pushAll(minPriority, kind));
  }

  private async pass(kind: SyncKind, trigger: string, minPriority: number): Promise<SyncRunResult> {
    const started = Date.now();
    const errors: string[] = [];
    let pushed = 0;
    let pulled = 0;
    let conflicts = 0;
    let failed = 0;
    /** The push loop's reason to stop, already among `errors`. */
    let pushStop: unknown;
    if (this.paused || this.stopped) {
      return { kind, trigger, pushed, pulled, conflicts, failed, durationMs: 0, errors: [this.stopped ? 'stopped' : 'paused'] };
    }
    const { outbox, cursors, history } = this.ports;
    const run = history.startRun(kind, trigger, this.config.historyRuns);
    this.emit('syncStarted', { kind, trigger });
    this.activity = { kind, pulled: 0, pushed: 0 };
    this.emitStatus();
    try {
      if (kind === 'FULL') {
        for (const table of cursors.pausedTables().keys()) cursors.unpauseTable(table); // try again
        outbox.purgeSynced(this.config.retentionMs);
      }
      const p = await this.pushAll(minPriority, kind);
      pushed += p.pushed;
      conflicts += p.conflicts;
      failed += p.failed;
      errors.push(...p.errors);
      // The push loop has listed why it stopped among its errors: thrown to end the pass, not listed again.
      if (p.offline) throw (pushStop = new NetworkError(p.errors[p.errors.length - 1] ?? 'offline'));
      if (p.refused) throw (pushStop = p.refused);
      if (kind === 'FULL') conflicts += await this.pullLoop.refreshConflicts();
      for (const entry of this.pullLoop.due(minPriority)) {
        const r = await this.pullLoop.pullTable(entry, kind);
        pulled += r.pulled;
        conflicts += r.conflicts;
        if (r.error) errors.push(r.error);
      }
      this.link.markOnline();
      this.markSynced();
      this.lastError = errors[0] ?? null;
      this.keyRefusal = null;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err !== pushStop) errors.push(message);
      this.lastError = message;
      const failure = failureOf(err);
      if (failure === 'unreachable') this.link.markOffline(message);
      else if (failure === 'key-refused') {
        // A settings problem, not a bug: one line saying so (a stack trace would point at our HTTP client).
        this.keyRefusal = err as CentralError;
        this.log.error({ status: this.keyRefusal.status, code: this.keyRefusal.code, err: message, kind, trigger }, 'central refused this terminal\'s key');
      } else this.log.error({ err, kind, trigger }, 'sync pass failed');
    } finally {
      this.activity = null;
    }
    const result: SyncRunResult = { kind, trigger, pushed, pulled, conflicts, failed, durationMs: Date.now() - started, errors };
    history.finishRun(run, result);
    this.log.info({ kind, trigger, pushed, pulled, conflicts, failed, durationMs: result.durationMs, errors: errors.length }, 'sync finished');
    this.emit('syncFinished', result);
    this.emitStatus();
    // A pass pushes what was captured when it began: what came after goes now, not at the next interval.
    if (this.scheduled) this.pushes.noteCommit();
    return result;
  }

  /**
   * A supervisor's decision: resolved at central (so every till converges), then
   * applied here. A conflict only seen locally is first pushed so central parks it.
   */
  async resolveConflict(conflictId: string, resolution: 'TERMINAL_WINS' | 'CENTRAL_WINS' | 'MANUAL_MERGE', resolvedData?: WireRow, resolvedBy?: string) {
    const r = await this.pullLoop.resolveConflict(conflictId, resolution, resolvedData, resolvedBy, () => this.pushAll(0, 'FULL'));
    this.emitStatus();
    return r;
  }

  retryFailed(): number {
    const n = this.ports.outbox.retryFailed();
    this.emitStatus();
    if (n > 0) void this.performIncrementalSync('retry-failed').catch(() => undefined);
    return n;
  }

  /**
   * The convergence audit (audit.ts), of every table or one, and its report handed to
   * HQ. A report HQ cannot take is logged; the audit's answer stands (the next one is sent).
   */
  async audit(table?: string): Promise<AuditReport> {
    const report = await runAudit({ store: this.store, client: this.client, terminalId: this.terminalId, table });
    await this.client.auditReport(this.terminalId, trimAudit(report)).catch((err: unknown) => {
      this.log.warn({ err: err instanceof Error ? err.message : err }, 'could not hand the audit report to HQ');
    });
    return report;
  }

  heartbeat(): Promise<boolean> {
    return this.link.heartbeat();
  }

  // ------------------------------------------------------------------ status

  status(): EngineStatus {
    return engineStatus(this.ports, {
      terminalId: this.terminalId,
      centralUrl: this.config.centralUrl,
      connection: this.link.connection,
      paused: this.paused,
      activity: this.activity,
      lastSyncAt: this.lastSyncAt,
      lastError: this.lastError,
    });
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
