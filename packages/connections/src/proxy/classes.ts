import type { ProxyConfig, RoutePattern } from '@lever-connect/config';
import type { BudgetClass } from './budget.js';

function matches(route: RoutePattern, method: string, segments: readonly string[]): boolean {
  return route.method === method && route.segments.length === segments.length && route.segments.every((s, i) => s === '*' || s === segments[i]);
}

/**
 * The budget classes a call draws from: every call from the account's (LEVER_API_RATE_PER_SECOND,
 * LEVER_API_BURST); an application POST (LEVER_APPLICATION_ROUTES) also from the stricter one.
 */
export function budgetClassesFor(config: ProxyConfig, method: string, path: string): BudgetClass[] {
  const api: BudgetClass = { name: 'api', ratePerSecond: config.ratePerSecond, burst: config.burst };
  const segments = path.split('?')[0]!.split('/').filter(Boolean);
  if (!config.applicationRoutes.some((route) => matches(route, method, segments))) return [api];
  const applications: BudgetClass = { name: 'applications', ratePerSecond: config.applicationRatePerSecond, burst: Math.max(1, config.applicationRatePerSecond) };
  return [api, applications];
}
