import type { Logger } from 'pino';
import type { ConnectionRepo } from '../store/connection-repo.js';
import type { RefreshScheduler } from './scheduler.js';
import type { ClaimedConnection, Refresher, RefreshResult, RefreshTrigger } from './types.js';

/**
 * The scheduled refresh, driven from Postgres: claim due connections in batches (repo.claimNextDue: lease
 * taken, SKIP LOCKED, so any number of processes sweep disjoint rows), refresh each under its Redis lock
 * (refresher.refreshClaimed), and keep `concurrency` refreshes in flight until nothing is due.
 *
 * Why not one BullMQ job per connection (the design until stop 16): each job cost two BullMQ scripts per
 * refresh (finish the job, add the next generation's), ≈ 0.2 ms of Redis and ≈ 0.2 ms of worker CPU, about
 * a third of a refresh's whole cost, and ~1 KiB of Redis per connection. next_refresh_at is the schedule
 * anyway (the reconciler re-derived the jobs from it); BullMQ now only wakes sweeps up (scheduler.ts).
 */
export interface RefreshSweepDeps {
  repo: Pick<ConnectionRepo, 'claimNextDue'>;
  refresher: Pick<Refresher, 'refreshClaimed' | 'blocked'>;
  scheduler: Pick<RefreshScheduler, 'nextDue' | 'wakeAt' | 'addHelper'>;
  ownerId: string;
  /** The lease a claim takes: as long as the refresher's own (leaseTtlMs(config)). */
  leaseTtlMs: number;
  /** Refreshes in flight at once in this process (REFRESH_CONCURRENCY). */
  concurrency: number;
  log: Logger;
  now?: () => Date;
  /** Told how late each claimed connection is (claim time − next_refresh_at), ms. */
  observeLag?(lateMs: number): void;
  /** Told when a wake-up cannot sweep at all (switched off, fenced): it counts as a scheduled attempt, so alerts see it. */
  observe?(result: RefreshResult, trigger: RefreshTrigger, durationMs: number): void;
}

export interface SweepRunOptions {
  /** Stops claiming (the process is shutting down); refreshes in flight finish. */
  signal?: AbortSignal;
  /** Told once per run when a claim came back full: more may be due than this process does at once. */
  onBacklog?(): void;
  /** Counts of several runs (a wake-up's passes): this run adds its claims and outcomes to it as well. */
  tally?: SweepTally;
}

/** What was claimed, and how each claimed refresh ended. */
export interface SweepTally {
  claimed: number;
  outcomes: Partial<Record<RefreshResult['outcome'], number>>;
}

export interface SweepReport extends SweepTally {
  /**
   * Why the run stopped claiming before nothing was due: a dependency is away or the global Lever budget is
   * spent (retry after `retryInMs`), or it was asked to stop.
   */
  stoppedBy?: { reason: 'unavailable' | 'throttled'; retryInMs: number } | { reason: 'signal' };
}

/** A wake-up (a BullMQ job armed by scheduler.ts): the second it was armed for, and which helper it is. */
export interface WakeUp {
  dueAt: Date;
  /** 0 for a wake-up; k for the k-th helper a sweep with more work than one process does asked for. */
  helper: number;
}

/** What the worker does with the wake-up's job: finished, or moved `delayMs` later (the sweep could not run). */
export type WakeOutcome = { kind: 'done'; tally: SweepTally } | { kind: 'later'; delayMs: number };

export interface RefreshSweep {
  /** Claims and refreshes due connections until none is due (or `signal` aborts); waits for its refreshes. */
  run(options?: SweepRunOptions): Promise<SweepReport>;
  /**
   * One wake-up: checks the kill switch and the deployment fence (once for the whole wake-up), sweeps until
   * nothing is due (a few passes at most), asks for helpers when a claim comes back full, and arms the next
   * wake-up at the earliest due time (the chain). The worker only maps the outcome to BullMQ.
   */
  wake(wakeUp: WakeUp, signal?: AbortSignal): Promise<WakeOutcome>;
}

/** After a failed claim (Postgres away), the next run is this far off. */
const CLAIM_RETRY_MS = 5_000;
/** With refreshes switched off or fenced, a wake-up looks again this much later. */
const PAUSED_RECHECK_MS = 60_000;
/** With the fence unreadable (Postgres away), this much later. */
const UNAVAILABLE_RECHECK_MS = 5_000;
/** Helpers one wake-up may ask for (each brings one more process into a large backlog). */
const MAX_HELPERS = 8;
/** Sweeps in a row one wake-up may run while the schedule is still due (rows that fell due while one ran). */
const MAX_PASSES = 5;

export function createRefreshSweep(deps: RefreshSweepDeps): RefreshSweep {
  const now = deps.now ?? (() => new Date());
  // Claims refill the pool in chunks, not one row per finished refresh: one statement per refresh would
  // cost what the fenced write costs.
  const refill = Math.max(1, Math.floor(deps.concurrency / 5));

  const sweep: RefreshSweep = {
    async run({ signal, onBacklog, tally }: SweepRunOptions = {}) {
      const report: SweepReport = { claimed: 0, outcomes: {} };
      const tallies = tally ? [report, tally] : [report];
      const inFlight = new Set<Promise<void>>();
      let drained = false;
      let backlogTold = false;
      /** Something was claimed since the last claim that came back short. */
      let freshWork = false;
      /** Resolves the loop's wait when a refresh finishes (a slot is free). */
      let slotFreed: (() => void) | undefined;

      const start = ({ connection, tookOver }: ClaimedConnection) => {
        const task = deps.refresher.refreshClaimed({ connection, tookOver }).then(
          (result) => {
            for (const t of tallies) t.outcomes[result.outcome] = (t.outcomes[result.outcome] ?? 0) + 1;
            if ((result.outcome === 'unavailable' || result.outcome === 'throttled') && !report.stoppedBy) {
              report.stoppedBy = { reason: result.outcome, retryInMs: result.retryInMs };
            }
          },
          (error: unknown) => deps.log.error({ connectionId: connection.id, err: error }, 'sweep refresh threw'),
        );
        const tracked = task.finally(() => {
          inFlight.delete(tracked);
          slotFreed?.();
        });
        inFlight.add(tracked);
      };

      /** Claims up to `limit` due connections and starts them: how many (undefined when the claim failed). */
      const claim = async (limit: number): Promise<number | undefined> => {
        let batch: ClaimedConnection[];
        try {
          batch = await deps.repo.claimNextDue(deps.ownerId, deps.leaseTtlMs, now(), limit);
        } catch (error) {
          deps.log.warn({ err: error }, 'claiming due connections failed');
          report.stoppedBy = { reason: 'unavailable', retryInMs: CLAIM_RETRY_MS };
          return undefined;
        }
        const at = now().getTime();
        for (const claimed of batch) {
          deps.observeLag?.(at - (claimed.connection.nextRefreshAt?.getTime() ?? at));
          start(claimed);
        }
        for (const t of tallies) t.claimed += batch.length;
        if (batch.length > 0) freshWork = true;
        if (batch.length < limit) drained = true;
        else if (!backlogTold) {
          // As many as asked for: more may be due than this process's slots take.
          backlogTold = true;
          onBacklog?.();
        }
        return batch.length;
      };

      for (;;) {
        if (signal?.aborted && !report.stoppedBy) report.stoppedBy = { reason: 'signal' };
        const free = deps.concurrency - inFlight.size;
        if (!report.stoppedBy && !drained && (free >= refill || inFlight.size === 0)) {
          if (await claim(free)) continue;
        }
        if (inFlight.size === 0) {
          if (report.stoppedBy || !drained || !freshWork) return report;
          // Everything claimed is done. Rows may have fallen due meanwhile (retries, deferrals): one more look.
          drained = false;
          freshWork = false;
          if (!(await claim(deps.concurrency))) return report;
          continue;
        }
        await new Promise<void>((resolve) => (slotFreed = resolve));
        slotFreed = undefined;
      }
    },

    async wake({ dueAt, helper }, signal) {
      const stop = await deps.refresher.blocked();
      if (stop) {
        deps.observe?.(stop, 'schedule', 0);
        return { kind: 'later', delayMs: stop.outcome === 'unavailable' ? UNAVAILABLE_RECHECK_MS : PAUSED_RECHECK_MS };
      }
      const total: SweepTally = { claimed: 0, outcomes: {} };
      const onBacklog = () => {
        if (helper >= MAX_HELPERS) return;
        void deps.scheduler.addHelper(dueAt, helper + 1).catch((err: unknown) => deps.log.warn({ err }, 'could not ask for a sweep helper'));
      };
      for (let pass = 1; ; pass++) {
        const report = await sweep.run({ ...(signal ? { signal } : {}), tally: total, onBacklog });
        // Shutting down: leave the wake-up for another process (or this one's successor).
        if (report.stoppedBy?.reason === 'signal') return { kind: 'later', delayMs: 1_000 };
        if (report.stoppedBy) {
          deps.log.warn({ stoppedBy: report.stoppedBy, claimed: report.claimed }, 'refresh sweep paused');
          return { kind: 'later', delayMs: report.stoppedBy.retryInMs };
        }
        let next: Date | null;
        try {
          next = await deps.scheduler.nextDue();
        } catch (err) {
          deps.log.warn({ err }, 'could not read the next due time; the sweep retries');
          return { kind: 'later', delayMs: 5_000 };
        }
        if (next && next.getTime() <= Date.now() && pass < MAX_PASSES) continue;
        // The chain: the next wake-up at the earliest due time (still due after MAX_PASSES: a second from now).
        if (next) {
          await deps.scheduler
            .wakeAt(next.getTime() <= Date.now() ? new Date(Date.now() + 1_000) : next)
            .catch((err: unknown) => deps.log.warn({ err }, 'could not arm the next sweep; the reconciler will'));
        }
        return { kind: 'done', tally: total };
      }
    },
  };
  return sweep;
}
