import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { destroyConnection, pause } from './pause.js';

export const FAULT_TARGETS = ['token', 'api', 'revoke'] as const;
export const FAULT_KINDS = [
  '503',
  '500',
  '429',
  '429_no_retry_after',
  'timeout',
  'reset',
  'timeout_after_rotation',
  'invalid_grant',
  'slow',
  'unreadable_access_token',
  'wrong_audience',
] as const;
export type FaultTarget = (typeof FAULT_TARGETS)[number];
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Kinds that only mean something at one target: the access token a token answer carries; a revocation refuses nothing. */
const TOKEN_ONLY: readonly FaultKind[] = ['unreadable_access_token', 'wrong_audience'];
const NOT_AT_REVOKE: readonly FaultKind[] = ['invalid_grant'];

/** Whether a fault of `kind` can be applied at `target` (the control plane refuses the others). */
export function faultApplies(target: FaultTarget, kind: FaultKind): boolean {
  if (TOKEN_ONLY.includes(kind)) return target === 'token';
  if (target === 'revoke') return !NOT_AT_REVOKE.includes(kind);
  return true;
}

/**
 * A queued failure, consumed by the next `count` matching requests:
 * - `503`/`500`/`429`: answered at once, nothing processed (`429` carries `Retry-After: <retryAfterSeconds>`,
 *   default 1);
 * - `429_no_retry_after`: a 429 without `Retry-After` (Lever does not promise the header, LEVER.md);
 * - `timeout`: held without an answer for `delayMs` (default 30 000) then the socket is destroyed;
 * - `reset`: the socket is destroyed at once; nothing processed;
 * - `timeout_after_rotation`: processed (a refresh rotates) then the socket is destroyed: the client lost
 *   the only copy of the new refresh token, the case that makes refresh "ambiguous";
 * - `invalid_grant`: the grant behind the request is revoked and the request refused;
 * - `slow`: processed normally, answered after `delayMs` (default 2 000);
 * - `unreadable_access_token` (token only): processed normally, but the answer's access token is opaque, not
 *   a JWT (what Auth0 hands out when no API audience applies);
 * - `wrong_audience` (token only): processed normally, but the access token is minted for Auth0's userinfo
 *   audience instead of Lever's API (what production Lever does when `audience` is missing).
 * At `revoke` every kind but `invalid_grant` applies; `timeout_after_rotation` there revokes, then drops the answer.
 */
export interface Fault {
  id: string;
  target: FaultTarget;
  kind: FaultKind;
  remaining: number;
  delayMs?: number;
  /** `429` only: the `Retry-After` value in seconds (default 1). */
  retryAfterSeconds?: number;
  /** Only requests for this Lever account (token endpoint: the account of the code or refresh token's grant). */
  matchAccount?: string;
}

export interface FaultQueue {
  add(input: Omit<Fault, 'id' | 'remaining'> & { count?: number }): Fault;
  /** Consumes one use of the first fault matching the request, if any. */
  take(target: FaultTarget, account: string | undefined): Fault | undefined;
  list(): Fault[];
  clear(): void;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_SLOW_MS = 2_000;
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

export function createFaultQueue(): FaultQueue {
  let faults: Fault[] = [];
  return {
    add(input) {
      const fault: Fault = {
        id: randomUUID(),
        target: input.target,
        kind: input.kind,
        remaining: input.count ?? 1,
        ...(input.delayMs !== undefined ? { delayMs: input.delayMs } : {}),
        ...(input.retryAfterSeconds !== undefined ? { retryAfterSeconds: input.retryAfterSeconds } : {}),
        ...(input.matchAccount !== undefined ? { matchAccount: input.matchAccount } : {}),
      };
      faults.push(fault);
      return fault;
    },
    take(target, account) {
      const fault = faults.find(
        (f) => f.target === target && f.remaining > 0 && (f.matchAccount === undefined || f.matchAccount === account),
      );
      if (!fault) return undefined;
      fault.remaining--;
      if (fault.remaining === 0) faults = faults.filter((f) => f !== fault);
      return fault;
    },
    list: () => faults.map((f) => ({ ...f })),
    clear() {
      faults = [];
    },
  };
}

/** The HTTP status an early fault answers with; undefined for faults that drop the connection or act later. */
export function earlyFaultStatus(kind: FaultKind): 500 | 503 | 429 | undefined {
  if (kind === '500' || kind === '503') return Number(kind) as 500 | 503;
  if (kind === '429' || kind === '429_no_retry_after') return 429;
  return undefined;
}

/**
 * Answers the faults that happen before any processing. Returns true when the request is finished (answered
 * or dropped); `invalid_grant`, `timeout_after_rotation` and `slow` are left to the endpoint because they
 * depend on what it processes.
 */
export async function answerEarlyFault(
  fault: Fault,
  reply: FastifyReply,
  shutdown: AbortSignal,
  errorBody: (status: 500 | 503 | 429) => unknown,
): Promise<boolean> {
  switch (fault.kind) {
    case '500':
    case '503':
      reply.code(Number(fault.kind)).send(errorBody(Number(fault.kind) as 500 | 503));
      return true;
    case '429':
      reply.code(429).header('retry-after', String(fault.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS)).send(errorBody(429));
      return true;
    case '429_no_retry_after':
      reply.code(429).send(errorBody(429));
      return true;
    case 'timeout':
      await pause(fault.delayMs ?? DEFAULT_TIMEOUT_MS, reply, shutdown);
      destroyConnection(reply);
      return true;
    case 'reset':
      destroyConnection(reply);
      return true;
    default:
      return false;
  }
}
