// Plain words for every status, reason and event: what happened, and what to do about it. Pure functions,
// table-tested (test/explain.test.ts), so a support person reads the same sentence for the same state everywhere.
import { formatDate, formatTime, plural } from './format.ts';
import type { Connection, DomainEvent } from './types.ts';

export type Tone = 'ok' | 'warn' | 'bad' | 'off';

export interface Explanation {
  tone: Tone;
  /** A few words: the badge and the panel's title. */
  headline: string;
  /** Why, in a sentence. */
  reason: string;
  /** What to do, in a sentence (or that nothing needs doing). */
  action: string;
}

const DAY_MS = 86_400_000;

/** Why Lever refused a refresh transiently (connections.lastRefreshError, the classifier's reasons). */
const TRANSIENT_REASONS: Record<string, string> = {
  server_error: "Lever's token endpoint answered with a server error",
  timeout: 'Lever did not answer in time',
  network_error: 'Lever could not be reached',
  rate_limited: 'Lever asked us to slow down (429)',
  bad_response: 'Lever sent an answer we could not read',
};

/** Why a refresh attempt failed, in words (the reason codes of refresh_failed / refresh_failing events). */
export function failureInWords(reason: string | null | undefined): string {
  if (!reason) return 'The refresh failed';
  if (reason === 'invalid_client') return "Lever refused our OAuth app's credentials (the operator's configuration, not the customer's)";
  return TRANSIENT_REASONS[reason] ?? `The refresh failed (${reason})`;
}

/** Why a connection needs the customer to reconnect (connections.reauthReason). */
export function reauthInWords(reason: string | null | undefined): { reason: string; action: string } {
  if (reason === 'refresh_response_lost') {
    return {
      reason: 'A refresh answer was lost (our side): Lever rotated the token but the answer never reached us.',
      action: "Send a reconnect link — this is not the customer's doing.",
    };
  }
  if (reason === 'invalid_grant' || !reason) {
    return { reason: 'The customer removed the app in Lever or the grant expired.', action: 'Send them a reconnect link.' };
  }
  return { reason: `Lever no longer accepts this connection's grant (${reason}).`, action: 'Send them a reconnect link.' };
}

/** The status of a connection with its reason in plain words and what to do. */
export function explainConnection(c: Pick<Connection, 'status' | 'reauthReason' | 'refreshAttemptCount' | 'lastRefreshError' | 'nextRefreshAt' | 'lastRefreshedAt' | 'grantExpiresAt' | 'environment'>, now = Date.now(), noticeDays = 14): Explanation {
  if (c.status === 'disconnected') {
    return {
      tone: 'off',
      headline: 'Disconnected',
      reason: 'It was disconnected here: its tokens were wiped and it is no longer refreshed.',
      action: 'Nothing to fix. To connect this customer again, start a new connection from your app (a reconnect link cannot revive it).',
    };
  }
  if (c.status === 'needs_reauth') return { tone: 'bad', headline: 'Needs reconnect', ...reauthInWords(c.reauthReason) };
  if (c.refreshAttemptCount > 0) {
    const operator = c.lastRefreshError === 'invalid_client';
    return {
      tone: 'warn',
      headline: 'Refreshes failing',
      reason: `${failureInWords(c.lastRefreshError)}; ${plural(c.refreshAttemptCount, 'attempt')} failed in a row. The grant is kept.`,
      action: operator
        ? `Check LEVER_${c.environment.toUpperCase()}_CLIENT_ID and _CLIENT_SECRET. Nothing for the customer to do.`
        : `Nothing for the customer to do: we retry with backoff${c.nextRefreshAt ? ` (next at ${formatTime(c.nextRefreshAt)})` : ''}. If it lasts, check Lever's status.`,
    };
  }
  if (c.grantExpiresAt && new Date(c.grantExpiresAt).getTime() - now <= noticeDays * DAY_MS) {
    return {
      tone: 'warn',
      headline: 'Grant ends soon',
      reason: `Lever ends every grant one year after it was made: this one on ${formatDate(c.grantExpiresAt)}.`,
      action: 'Send the customer a reconnect link before then.',
    };
  }
  return {
    tone: 'ok',
    headline: 'Healthy',
    reason: c.lastRefreshedAt ? `Tokens are refreshed automatically (last at ${formatTime(c.lastRefreshedAt)}).` : 'Tokens are refreshed automatically.',
    action: 'Nothing to do.',
  };
}

/** One line of a connection's timeline. */
export function describeEvent(event: Pick<DomainEvent, 'type' | 'data'>): { title: string; detail: string; tone: Tone } {
  const reason = event.data.connection?.reason;
  switch (event.type) {
    case 'connection.created':
      return { title: 'Connected', detail: 'The customer connected their Lever account.', tone: 'ok' };
    case 'connection.reauthorized':
      return { title: 'Reconnected', detail: 'The customer connected again; same connection, new grant.', tone: 'ok' };
    case 'connection.refreshed':
      return { title: 'Refreshed', detail: 'New tokens from Lever.', tone: 'ok' };
    case 'connection.refresh_failed':
      return { title: 'Refresh failed', detail: `${failureInWords(reason)}. Retried later; the grant is kept.`, tone: 'warn' };
    case 'connection.refresh_failing':
      return { title: 'Failing for a while', detail: `${failureInWords(reason)}, for long enough to notify you.`, tone: 'warn' };
    case 'connection.recovered':
      return { title: 'Recovered', detail: 'Refreshes work again.', tone: 'ok' };
    case 'connection.needs_reauth':
      return { title: 'Needs reconnect', detail: `${reauthInWords(reason).reason} ${reauthInWords(reason).action}`, tone: 'bad' };
    case 'connection.expiring': {
      const at = reason?.startsWith('grant_expires_at:') ? reason.slice('grant_expires_at:'.length) : undefined;
      return { title: 'Expiring', detail: `The grant ends${at ? ` on ${formatDate(at)}` : ' soon'}: send a reconnect link before then.`, tone: 'warn' };
    }
    case 'connection.deleted':
      return { title: 'Disconnected', detail: 'Tokens wiped; no longer refreshed.', tone: 'off' };
    default:
      return { title: event.type, detail: '', tone: 'off' };
  }
}

/** A webhook delivery's state in words. */
export function describeDelivery(d: { status: string; attempts: number; responseStatus: number | null; lastError: string | null; nextAttemptAt: string | null }): string {
  if (d.status === 'succeeded') return `Delivered${d.responseStatus ? ` (${d.responseStatus})` : ''} after ${plural(d.attempts, 'attempt')}.`;
  const last = d.responseStatus ? `the endpoint answered ${d.responseStatus}` : d.lastError ? d.lastError : 'no answer';
  if (d.status === 'failed') return `Gave up after ${plural(d.attempts, 'attempt')}: ${last}.`;
  if (d.attempts === 0) return 'Waiting for its first attempt.';
  return `Retrying: ${last}${d.nextAttemptAt ? `; next attempt ${formatTime(d.nextAttemptAt)}` : ''}.`;
}
