import { EVENT_TYPES } from '@lever-connect/runtime';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EVENT_TYPES, endpointMatches, type RoutableEvent, type SubscribedEndpoint } from '../src/index.js';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const EP = '33333333-3333-4333-8333-333333333333';
const ep = (over: Partial<SubscribedEndpoint> = {}): SubscribedEndpoint => ({ id: EP, enabled: true, eventTypes: [], tenantId: null, ...over });
const ev = (type: string, tenantId: string | null = A, data: unknown = {}): RoutableEvent => ({ type, tenantId, data });

describe('subscription matching', () => {
  it("defaults to every event type except connection.refreshed, connection.refresh_failed and Lever's own (lever.*)", () => {
    expect(DEFAULT_EVENT_TYPES).toEqual(
      EVENT_TYPES.filter((t) => t !== 'connection.refreshed' && t !== 'connection.refresh_failed' && !t.startsWith('lever.')),
    );
    expect(DEFAULT_EVENT_TYPES).toContain('connection.lever_webhooks_failed');
  });

  it.each([
    ['default set gets needs_reauth', ep(), ev('connection.needs_reauth'), true],
    ['default set skips refreshed', ep(), ev('connection.refreshed'), false],
    ["default set skips Lever's events (existing endpoints see no change)", ep(), ev('lever.candidateStageChange'), false],
    ['lever.* gets every Lever event', ep({ eventTypes: ['lever.*'] }), ev('lever.candidateStageChange'), true],
    ['lever.* gets none of ours', ep({ eventTypes: ['lever.*'] }), ev('connection.needs_reauth'), false],
    ['one Lever event by name', ep({ eventTypes: ['lever.applicationCreated'] }), ev('lever.applicationCreated'), true],
    ['another Lever event than named', ep({ eventTypes: ['lever.applicationCreated'] }), ev('lever.candidateHired'), false],
    ['default set skips refresh_failed', ep(), ev('connection.refresh_failed'), false],
    ['explicit refresh_failed gets it', ep({ eventTypes: ['connection.refresh_failed'] }), ev('connection.refresh_failed'), true],
    ['explicit refreshed gets it', ep({ eventTypes: ['connection.refreshed'] }), ev('connection.refreshed'), true],
    ['explicit list skips others', ep({ eventTypes: ['connection.created'] }), ev('connection.needs_reauth'), false],
    ['disabled endpoints get nothing', ep({ enabled: false }), ev('connection.needs_reauth'), false],
    ['tenant filter admits its tenant', ep({ tenantId: A }), ev('connection.needs_reauth', A), true],
    ['tenant filter refuses another tenant', ep({ tenantId: B }), ev('connection.needs_reauth', A), false],
    ['tenant filter refuses tenant-less events', ep({ tenantId: A }), ev('oauth_app.invalid_credentials', null), false],
    ['no filter gets tenant-less events', ep(), ev('oauth_app.invalid_credentials', null), true],
    ['webhook.test goes to the endpoint it names', ep({ eventTypes: ['connection.created'] }), ev('webhook.test', null, { endpointId: EP }), true],
    ['webhook.test skips other endpoints', ep(), ev('webhook.test', null, { endpointId: B }), false],
    ['webhook.test without data skips everyone', ep(), ev('webhook.test', null, null), false],
  ] as const)('%s', (_name, endpoint, event, expected) => {
    expect(endpointMatches(endpoint, event)).toBe(expected);
  });
});
