import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '@lever-connect/config';
import { AppError, RateLimitedError } from '@lever-connect/errors';
import type { LeverApiRequest, LeverApiResponse } from '@lever-connect/lever';
import { quotaExceeded, type QuotaGate, type Quotas } from '../access/quotas.js';
import type { Viewer } from '../access/viewer.js';
import type { AccessTokenGrant, TokenService } from '../tokens/token-service.js';
import type { AccountBudget, BudgetClass } from './budget.js';
import { budgetClassesFor } from './classes.js';
import { decide, type AttemptOutcome } from './decide.js';
import { headersFromLever, headersToLever } from './headers.js';
import { checkProxyPath } from './path.js';

/** A request body the proxy can send more than once (Lever's 429 means "not processed": it is retried). */
export interface ReplayableBody {
  size: number;
  /** A fresh stream (or the bytes) of the whole body, for one attempt. */
  open(): Readable | Buffer;
}

export interface ProxyRequest {
  method: string;
  /** What follows `/lever/` in the caller's URL, not decoded, without the query string. */
  rawPath: string;
  /** The query string with its `?`, unchanged, or ''. */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body?: ReplayableBody | undefined;
  /** The caller's own limit on waiting for the budget (lower than LEVER_PROXY_MAX_WAIT_MS only). */
  maxWaitMs?: number | undefined;
  viewer: Viewer;
  /** Aborted when the caller went away: a waiting call gives up its turn's wait. */
  signal?: AbortSignal | undefined;
}

export interface ProxyAnswer {
  status: number;
  headers: Record<string, string>;
  /** Lever's body: read whole when it is small and its length known, else streamed as it comes. */
  body: Readable | Buffer;
  /** Time spent waiting for turns in the account's budget, ms. */
  waitedMs: number;
  attempts: number;
}

export interface ProxyDeps {
  tokens: Pick<TokenService, 'getAccessToken' | 'refreshRejected'>;
  budget: AccountBudget;
  /** Per-tenant and per-key quotas: one tenant's callers cannot take the api from the others. */
  quotas?: Pick<Quotas, 'proxyGates'>;
  config: Pick<Config, 'proxy'>;
  send(request: LeverApiRequest): Promise<LeverApiResponse>;
  /** Told of every attempt's outcome (metrics: Lever's 429s above all). */
  observeAttempt?(environment: string, outcome: AttemptOutcome): void;
  random?: () => number;
}

/** Lever said no, or never answered: our error, carrying what is known. */
function giveUpError(code: 'lever_unavailable' | 'lever_unauthorized' | 'lever_forbidden', outcome: AttemptOutcome, attempts: number, leverBody?: unknown): AppError {
  const known = outcome.kind === 'response' ? { leverStatus: outcome.status } : { reason: outcome.reason, mayHaveReachedLever: outcome.sent };
  if (code === 'lever_forbidden') return new AppError(code, 'Lever refused this call (403): the grant lacks a scope, or the Lever account does not allow it', 403, { ...known, lever: leverBody });
  if (code === 'lever_unauthorized') {
    return new AppError(code, "Lever's API refused the access token even after a refresh; the grant itself is still valid", 502, { ...known, lever: leverBody });
  }
  return new AppError(code, 'Lever did not answer this call successfully', 502, { ...known, attempts });
}

/**
 * Answers up to this size with a content-length are read whole and sent on as one buffer: most of Lever's
 * answers are a page of JSON, and piping a stream into the reply costs more CPU per call than the copy
 * (measured in `pnpm bench`, Lever API proxy). Larger or unsized answers (files, downloads) stream.
 */
const BUFFER_UP_TO_BYTES = 256 * 1024;

async function bodyOf(body: Readable, headers: Record<string, string>): Promise<Readable | Buffer> {
  const length = Number(headers['content-length'] ?? Number.NaN);
  if (!(length <= BUFFER_UP_TO_BYTES)) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

async function discard(body: Readable): Promise<void> {
  body.resume();
  await new Promise<void>((resolve) => {
    body.once('end', resolve).once('error', () => resolve()).once('close', resolve);
  });
}

async function readJson(body: Readable): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) break; // an error body, not a download: keep the first 64 KiB at most
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The Lever API proxy: every operator service reaches Lever through one door that keeps one budget per
 * Lever account across every process (budget.ts), waits its turn instead of failing, and absorbs what
 * every integrator otherwise rebuilds: 429 storms, 5xx and timeouts on idempotent calls, and an access
 * token that died early (decide.ts says which). Lever's answer streams back as it is.
 */
export function createLeverProxy(deps: ProxyDeps) {
  const { proxy: config } = deps.config;

  /**
   * Waits for the account's next turn (once, no polling), or throws our 429 when it is too far away. The
   * call's quotas (first attempt only: a retry is the same call) are taken with the turn, in one Redis call.
   */
  async function takeTurn(account: string, classes: BudgetClass[], deadline: number, signal: AbortSignal | undefined, quotas: readonly QuotaGate[]): Promise<number> {
    const turn = await deps.budget.reserve(account, classes, Math.max(0, deadline - Date.now()), quotas);
    if (!turn.granted) {
      if (turn.gate !== undefined) throw quotaExceeded(quotas[turn.gate]!.what, turn.retryInMs);
      const seconds = Math.max(1, Math.ceil(turn.retryInMs / 1000));
      throw new RateLimitedError('rate_limited', `This Lever account's call budget is taken for the next ${seconds} s; try again later`, seconds);
    }
    if (turn.waitMs > 0) await sleep(turn.waitMs, undefined, { signal });
    return turn.waitMs;
  }

  return {
    async forward(connectionId: string, req: ProxyRequest): Promise<ProxyAnswer> {
      const path = checkProxyPath(req.rawPath);
      const method = req.method.toUpperCase();
      let grant: AccessTokenGrant = await deps.tokens.getAccessToken(connectionId, { tenantId: req.viewer.tenantId ?? undefined });
      // The connection's tenant, whoever calls: an operator's services usually share one admin key.
      const quotas = deps.quotas?.proxyGates({ tenantId: grant.tenantId, apiKeyId: req.viewer.apiKeyId ?? null }) ?? [];
      const account = `${grant.environment}:${grant.leverAccountId}`;
      const classes = budgetClassesFor(config, method, path);
      const deadline = Date.now() + Math.min(config.maxWaitMs, req.maxWaitMs ?? Infinity);
      const headers = headersToLever(req.headers);
      let waitedMs = 0;
      let refreshed = false;
      for (let attempt = 1; ; attempt++) {
        waitedMs += await takeTurn(account, classes, deadline, req.signal, attempt === 1 ? quotas : []);
        const response = await deps.send({
          baseUrl: grant.apiBaseUrl,
          method,
          pathAndQuery: path + req.query,
          headers: { ...headers, authorization: `Bearer ${grant.accessToken}` },
          body: req.body?.open(),
          timeoutMs: config.timeoutMs,
          signal: req.signal,
        });
        const outcome: AttemptOutcome =
          response.kind === 'response'
            ? { kind: 'response', status: response.status, retryAfter: headersFromLever(response.headers)['retry-after'] }
            : { kind: 'no_response', reason: response.reason, sent: response.sent };
        deps.observeAttempt?.(grant.environment, outcome);
        const verdict = decide({ method, outcome, attempt, maxAttempts: config.maxAttempts, refreshed, ...(deps.random ? { random: deps.random } : {}) });
        if (verdict.kind === 'answer' && response.kind === 'response') {
          const answerHeaders = headersFromLever(response.headers);
          return { status: response.status, headers: answerHeaders, body: await bodyOf(response.body, answerHeaders), waitedMs, attempts: attempt };
        }
        const leverBody = response.kind === 'response' && verdict.kind === 'give_up' ? await readJson(response.body) : undefined;
        if (response.kind === 'response' && leverBody === undefined) await discard(response.body);
        if (verdict.kind === 'give_up' || verdict.kind === 'answer') throw giveUpError(verdict.kind === 'give_up' ? verdict.code : 'lever_unavailable', outcome, attempt, leverBody);
        if (verdict.kind === 'refresh') {
          refreshed = true;
          grant = await deps.tokens.refreshRejected(connectionId, grant, { tenantId: req.viewer.tenantId ?? undefined });
          continue;
        }
        if (verdict.kind === 'rate_limited') {
          await deps.budget.pause(account, classes, verdict.pauseMs);
          if (Date.now() + verdict.pauseMs > deadline) {
            const seconds = Math.max(1, Math.ceil(verdict.pauseMs / 1000));
            throw new RateLimitedError('lever_rate_limited', `Lever answered 429 and kept doing so within this call's wait budget`, seconds, { attempts: attempt });
          }
          continue;
        }
        if (Date.now() + verdict.delayMs > deadline) throw giveUpError('lever_unavailable', outcome, attempt);
        await sleep(verdict.delayMs, undefined, { signal: req.signal });
      }
    },
  };
}

export type LeverProxy = ReturnType<typeof createLeverProxy>;
