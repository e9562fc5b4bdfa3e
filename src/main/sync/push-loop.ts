/**
 * The push pipeline: batches of the outbox to central, pipelined (the next batch is
 * built while one is at central and sent at once, so two are at central together;
 * one pointing at a row of the batch before goes once that is answered), a batch refused
 * as a whole split until the bad change stands alone. It reads and writes the store
 * only through its ports and tells its host what happened (answered, unreachable,
 * settled); connectivity and scheduling are the host's.
 */
import type { Logger } from 'pino';
import type { PushResponse } from '../../shared/protocol.js';
import type { SyncKind } from '../../shared/ipc.js';
import type { CentralError } from './central-client.js';
import { afterPushFailure, refusedForContent } from './failure.js';
import { crossesTiers, inFlight, pointsAtBusy, splitGroups, type InFlight, type OutgoingBatch, type PushRecord } from './store/index.js';
import type { AnswersPort, BatchesPort, CapturePort, CentralPort, CursorsPort, OutboxPort } from './ports.js';
import type { SyncConfig } from './sync-config.js';

export interface PushLoopPorts {
  readonly capture: Pick<CapturePort, 'promote'>;
  readonly batches: BatchesPort;
  readonly answers: AnswersPort;
  readonly outbox: Pick<OutboxPort, 'unsent' | 'lastEntryId'>;
  readonly cursors: Pick<CursorsPort, 'pausedTables'>;
}

/** What the push loop asks of, and tells, the engine around it. */
export interface PushLoopHost {
  terminalId(): string;
  /** Stopped or paused: no new batch goes out. */
  halted(): boolean;
  /** Central answered a batch; `synced` of its changes were settled as synced. */
  answered(synced: number): void;
  /** Central could not be reached. */
  unreachable(reason: string): void;
  /** A push changed the outbox (something pushed, parked or failed). */
  settled(): void;
}

export interface PushOutcome {
  pushed: number;
  conflicts: number;
  failed: number;
  errors: string[];
  offline: boolean;
  refused?: CentralError;
}

/** What settling a batch's answers came to. */
type Answer = PushRecord;

/**
 * What the loop does once a batch is answered (pure). `next` is the batch built while
 * it was at central (null when none was built), `nextPosted` whether it already went
 * out, `stopping` whether the engine is stopping or paused.
 *
 * - `next`: go on with `next` (its request, if posted, is taken in next round);
 * - `rebuild`: everything left touched the answered batch: build again;
 * - `unsend-next`: stopping, and `next` never went out: put it back, stop;
 * - `stop`: stopping, nothing built to put back.
 */
export type Round = 'next' | 'rebuild' | 'unsend-next' | 'stop';

export function nextRound(next: { readonly size: number; readonly deferred: number } | null, nextPosted: boolean, stopping: boolean): Round {
  const usable = next !== null && (next.size > 0 || !next.deferred);
  if (usable) return stopping && !nextPosted ? 'unsend-next' : 'next';
  return stopping ? 'stop' : 'rebuild';
}

export class PushLoop {
  constructor(
    private readonly ports: PushLoopPorts,
    private readonly client: Pick<CentralPort, 'push'>,
    private readonly config: Pick<SyncConfig, 'batchSize' | 'maxClockDriftMs' | 'maxRetries' | 'retryDelay'>,
    private readonly log: Logger,
    private readonly host: PushLoopHost,
  ) {}

  /** Pushes batches until nothing at or above `minPriority` is ready. */
  async pushAll(minPriority: number, kind: SyncKind): Promise<PushOutcome> {
    let pushed = 0;
    let conflicts = 0;
    let failed = 0;
    const errors: string[] = [];
    if (this.host.halted()) return { pushed, conflicts, failed, errors, offline: false };
    const { capture, batches, outbox, cursors } = this.ports;
    // What was captured when the pass began: a POS writing on and on cannot keep a pass alive.
    capture.promote();
    const upToId = outbox.lastEntryId();
    const build = (busy?: InFlight) =>
      batches.nextBatch({ limit: this.config.batchSize, minPriority, now: Date.now(), pausedTables: new Set(cursors.pausedTables().keys()), upToId, busy });
    let batch = build();
    const take = (r: Answer) => {
      pushed += r.synced;
      conflicts += r.conflicts;
      failed += r.failed;
      if (r.failed > 0) errors.push(`central refused ${r.failed} change(s); they are marked failed (see status)`);
      if (r.unanswered > 0) {
        // Central answers every change it is sent: one left out means a broken central or something in between.
        errors.push(`central gave no answer for ${r.unanswered} change(s); they go again after a pause`);
        this.log.warn({ changes: r.unanswered }, 'central left changes unanswered');
      }
      for (const t of r.paused) {
        errors.push(`${t}: schema differs from central's; sync of ${t} is paused`);
        this.log.error({ table: t }, 'schema mismatch: table paused');
      }
    };
    /** The request of `batch` when it went out before the previous batch's answers were settled. */
    let posted: Promise<PushResponse> | undefined;
    for (let guard = 0; guard < 10_000; guard++) {
      failed += batch.invalid;
      if (batch.changes.length === 0) break;
      // While this batch is at central the next one is built (the request goes out first)
      // and sent, or, if it points at a row of this batch, sent as soon as this one is
      // answered, before those answers are settled: it holds none of this batch's groups
      // or rows. Its entries are stamped as sent, so if it never goes (or goes and gets
      // no answer) they wait, frozen, and go again as they are: central answers a change
      // it has already applied as a duplicate.
      let next: OutgoingBatch | null = null;
      let nextPosted: Promise<PushResponse> | undefined;
      /** The next batch is of another tier than this one: built again once this one is answered. */
      let otherTier = false;
      const sending = this.sendBatch(batch, {
        posted,
        answered: () => {
          if (!next || next.changes.length === 0 || nextPosted || otherTier || this.host.halted()) return;
          nextPosted = this.post(next);
          nextPosted.catch(() => undefined);
        },
      });
      sending.catch(() => undefined);
      if (!this.host.halted()) {
        await new Promise((r) => setImmediate(r));
        const busy = inFlight(batch);
        next = build(busy);
        // Two batches at central at once: the next goes now, not when this one is answered,
        // so central reads and checks it while this one's statements run (their rows and
        // groups are disjoint). Unless it points at a row of this one: then it waits for
        // that answer. Or unless the two are not all of one tier (they could commit in
        // either order): then it is built again once that answer is in, so whatever of a
        // higher tier waited behind this one's rows goes first.
        otherTier = crossesTiers(next.changes, batch.changes);
        if (next.changes.length > 0 && !this.host.halted() && !otherTier && !pointsAtBusy(next.changes, busy)) {
          nextPosted = this.post(next);
          nextPosted.catch(() => undefined);
        }
      }
      try {
        const r = await sending;
        take(r);
        this.host.answered(r.synced);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const n = this.recordFailure(batch, message);
        failed += n;
        errors.push(message);
        const then = afterPushFailure(err);
        if (then.stop) {
          // Offline or central busy: the rest waits. Key refused: every other batch would
          // be refused the same way; stop, and let the pass say why.
          if (then.offline) this.host.unreachable(message);
          if (next) {
            // The next batch may have gone beside this one and been taken: its answer is
            // recorded (central committed it; left unrecorded, a pull in this pass would
            // meet the till's own rows as central's changes). Not sent, or no answer: it waits.
            const late = nextPosted ? await nextPosted.catch(() => undefined) : undefined;
            if (late) take(this.settle(next, late));
            else outbox.unsent(next);
          }
          return then.refusedKey ? { pushed, conflicts, failed, errors, offline: false, refused: err as CentralError } : { pushed, conflicts, failed, errors, offline: then.offline };
        }
        // A 4xx for the whole batch: the entries were marked; go on with the rest.
        this.log.error({ err: message, kind, changes: batch.changes.length }, 'push refused');
      }
      let round = nextRound(next === null ? null : { size: next.changes.length, deferred: next.deferred ?? 0 }, nextPosted !== undefined, this.host.halted());
      if (round === 'next' && otherTier && !nextPosted) {
        // Of another tier: never sent; built again now that this one's answers are in.
        outbox.unsent(next as OutgoingBatch);
        round = 'rebuild';
      }
      // A batch not gone on with: the groups it held back as invalid are counted here (a batch gone on with counts them at the top).
      if (round !== 'next' && next) failed += next.invalid;
      if (round === 'stop') break;
      if (round === 'unsend-next') {
        outbox.unsent(next as OutgoingBatch);
        break;
      }
      if (round === 'next') {
        batch = next as OutgoingBatch;
        posted = nextPosted;
      } else {
        // Everything left touched the batch just answered: build again now that its answers are in.
        batch = build();
        posted = undefined;
      }
      // Stopping with a batch already at central: one more round takes its answer in, and builds nothing.
    }
    if (pushed + conflicts + failed > 0) this.host.settled();
    return { pushed, conflicts, failed, errors, offline: false };
  }

  /**
   * Sends a batch and records the answers. A batch central refuses as a whole (a 4xx:
   * one change it cannot take) is split in halves of whole groups until the bad group
   * stands alone, so one bad sale never holds back the good ones sent with it, and no
   * sale reaches central in parts.
   */
  private async sendBatch(batch: OutgoingBatch, hooks: { posted?: Promise<PushResponse> | undefined; answered?: () => void } = {}): Promise<Answer> {
    try {
      const response = await (hooks.posted ?? this.post(batch));
      if (hooks.answered) {
        hooks.answered();
        await new Promise((r) => setImmediate(r)); // the next request goes out before these answers are settled
      }
      return this.settle(batch, response);
    } catch (err) {
      const halves = refusedForContent(err) ? splitGroups(batch.changes) : null;
      if (!halves) throw err;
      const total: Answer = { synced: 0, conflicts: 0, failed: 0, paused: [], unanswered: 0 };
      for (const half of halves) {
        try {
          const r = await this.sendBatch({ changes: half, cancelled: 0, invalid: 0 });
          total.synced += r.synced;
          total.conflicts += r.conflicts;
          total.failed += r.failed;
          total.paused.push(...r.paused);
          total.unanswered += r.unanswered;
        } catch (inner) {
          if (!refusedForContent(inner)) throw inner;
          total.failed += this.recordFailure({ changes: half, cancelled: 0, invalid: 0 }, inner.message);
        }
      }
      return total;
    }
  }

  /** Records central's answers to a batch. */
  private settle(batch: OutgoingBatch, response: PushResponse): Answer {
    return this.ports.answers.recordPush(batch, response, this.config.maxClockDriftMs, {
      maxRetries: this.config.maxRetries,
      retryDelayMs: this.config.retryDelay,
      now: Date.now(),
    });
  }

  /** The push request of a batch. */
  private post(batch: OutgoingBatch): Promise<PushResponse> {
    const schemaHashes: Record<string, string> = {};
    for (const c of batch.changes) schemaHashes[c.entry.entityType] = c.entry.schemaHash;
    return this.client.push({ terminalId: this.host.terminalId(), changes: batch.changes.map((c) => c.change), schemaHashes });
  }

  private recordFailure(batch: OutgoingBatch, message: string): number {
    return this.ports.answers.recordPushFailure(batch, message, { maxRetries: this.config.maxRetries, retryDelayMs: this.config.retryDelay, now: Date.now() });
  }
}
