import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '@lever-connect/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport, renderTable, writeReport, ZERO_COLUMNS, type ReliabilityRow } from '../support/chaos-harness.js';
import {
  clockScenario,
  fenceScenario,
  killScenario,
  leverScenario,
  loadScenario,
  lostResponseScenario,
  postgresScenario,
  redisScenario,
  type ChaosSizes,
  type ScenarioOutcome,
} from '../support/chaos-scenarios.js';

/** The commit the run is on, `+dirty` when the worktree has changes. */
export function commitOf(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  try {
    // reports/ is left out, as the bench does: `pnpm test:chaos` writes the depth report before the reliability one.
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)reports') ? '+dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}

/**
 * Scenarios that SIGKILL processes: every kill loses at most the grants whose rotation was in flight at Lever
 * for the killed process, and the kills happened.
 */
function checkKills(outcome: ScenarioOutcome) {
  const kills = outcome.row.kills ?? [];
  expect(kills.length, 'kills recorded').toBeGreaterThanOrEqual(1);
  for (const [i, k] of kills.entries()) expect.soft(k.lost, `kill ${i} (${k.kind} at ${k.atS} s): lost ≤ in flight`).toBeLessThanOrEqual(k.inFlight);
}

/**
 * The reliability suite: each fault as a scenario over real processes, a row of figures each, a table at the
 * end. Every column but "refreshes done" and "responses lost" must be 0; each scenario also asserts its own
 * story (below) and that no secret reached the database dump or the logs.
 */
export function defineReliabilitySuite(sizes: ChaosSizes, reportFile: string, timeouts: { scenarioMs: number }) {
  const rows: ReliabilityRow[] = [];
  const startedAt = new Date();

  function check(outcome: ScenarioOutcome) {
    rows.push(outcome.row);
    for (const column of ZERO_COLUMNS) expect.soft(outcome.row[column], `${column}: ${outcome.row.notes}`).toBe(0);
    expect.soft(outcome.leaks, 'secrets in the database dump or the logs').toEqual([]);
    expect(outcome.crashed, 'processes that exited on their own').toEqual([]);
  }

  describe(`reliability (${sizes.name})`, () => {
    afterAll(() => {
      if (!rows.length) return;
      writeReport(reportFile, renderReport(rows, sizes.name, startedAt, commitOf()));
      console.log(`\n${renderTable(rows)}\n(written to ${path.relative(ROOT, reportFile)})\n`);
    });

    it('1. keeps every grant with many workers and api processes under token-endpoint load', async () => {
      const o = await loadScenario(sizes);
      check(o);
      expect(o.row.responsesLost).toBe(0);
      expect(o.row.refreshesDone).toBeGreaterThanOrEqual(sizes.load.connections * sizes.load.cycles);
    }, timeouts.scenarioMs);

    it('2a. loses nothing to random SIGKILLs of workers and apis when the reuse leeway covers a dead holder’s lease', async () => {
      // Another process retries a SIGKILLed holder's connection only once its Redlock lock (timeout + 20 s =
      // 23 s here) and Postgres lease (timeout + 15 s = 18 s) have expired, its BullMQ job has been found
      // stalled (15 s lock + 5 s check) and the takeover grace (3 s) has passed: up to ~30 s after the kill,
      // so the leeway that recovers a response lost to SIGKILL must be longer than that: 60 s.
      const o = await killScenario(sizes, 60);
      check(o);
      checkKills(o);
      expect(o.row.responsesLost).toBe(0);
      expect(o.facts.kills).toMatchObject({ api: expect.any(Number), worker: expect.any(Number) });
      const kills = o.facts.kills as { api: number; worker: number };
      expect(kills.api, 'api processes SIGKILLed').toBeGreaterThanOrEqual(1);
      expect(kills.worker, 'worker processes SIGKILLed').toBeGreaterThanOrEqual(1);
    }, timeouts.scenarioMs);

    it('2b. names every response lost to SIGKILL refresh_response_lost when there is no leeway', async () => {
      const o = await killScenario(sizes, 0);
      check(o); // falseReauth = 0: any needs_reauth here is refresh_response_lost; unexplainedLost = 0: each lost an undelivered answer
      checkKills(o);
    }, timeouts.scenarioMs);

    it('3. puts every connection back on schedule after Redis FLUSHALL and a Redis restart', async () => {
      check(await redisScenario(sizes));
    }, timeouts.scenarioMs);

    it('4. rides out a Postgres outage without a crash or a lost token', async () => {
      const o = await postgresScenario(sizes);
      check(o);
      expect(o.facts.exitCodes).toEqual((o.facts.exitCodes as unknown[]).map(() => null));
    }, timeouts.scenarioMs);

    it('5. survives Lever 503/timeout/429 storms and slow answers; flags exactly the revoked grants invalid_grant', async () => {
      const o = await leverScenario(sizes);
      check(o);
      expect(o.facts.reauthReasons).toEqual({ invalid_grant: sizes.lever.revoke });
    }, timeouts.scenarioMs);

    it('6. keeps grants alive across 80-day clock steps; warns connection.expiring before the year ends, then needs_reauth', async () => {
      const o = await clockScenario(sizes);
      check(o);
      expect(o.facts.aliveAt320).toEqual({ active: sizes.clock.connections, accepted: sizes.clock.connections, grantsRevoked: 0, liveGrants: sizes.clock.connections });
      expect(o.facts.expiringFirst).toBe(sizes.clock.connections);
    }, timeouts.scenarioMs);

    it('7a. recovers every response lost after rotation within the simulator’s reuse leeway (5 s)', async () => {
      const o = await lostResponseScenario(sizes, 5);
      check(o);
      expect(o.row.responsesLost).toBe(0);
    }, timeouts.scenarioMs);

    it('7b. without leeway, reports each lost response as refresh_response_lost (never as a customer revocation)', async () => {
      const o = await lostResponseScenario(sizes, 0);
      check(o);
      expect(o.row.responsesLost).toBeGreaterThan(0);
      expect(o.row.responsesLost).toBeLessThanOrEqual(sizes.lost.faultsLeewayZero);
    }, timeouts.scenarioMs);

    it('8. a clone of the database (other DEPLOYMENT_ID) and REFRESH_ENABLED=false processes never call Lever', async () => {
      const o = await fenceScenario(sizes);
      check(o);
      expect((o.facts.clone as { tokenRequests: number }).tokenRequests).toBe(0);
      expect((o.facts.killSwitch as { tokenRequests: number }).tokenRequests).toBe(0);
    }, timeouts.scenarioMs);
  });
}

export const REPORT_FILE = path.join(ROOT, 'reports', 'reliability.md');
export const SMOKE_REPORT_FILE = path.join(ROOT, 'test-artifacts', 'reliability-smoke.md');
