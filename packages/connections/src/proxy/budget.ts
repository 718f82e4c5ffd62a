import type { Redis } from 'ioredis';

/** One class of Lever's per-account limits, as Lever publishes them (a token bucket: rate and burst). */
export interface BudgetClass {
  /** Part of the Redis key: `api` (every call), `applications` (application POSTs, on top). */
  name: string;
  ratePerSecond: number;
  burst: number;
}

/**
 * How much of Lever's bucket the proxy uses. Calls leave in exactly the turns handed out, but reach Lever a
 * few ms apart from them (network, event loops): a budget that empties Lever's bucket has no slack left for
 * that jitter and earns 429s. So the proxy's own bucket is a quarter smaller than Lever's (15 of 20: the
 * rest absorbs half a second of calls arriving bunched), its steady rate is 97.5 % of Lever's (so Lever's
 * bucket refills a little even under constant load), and no second may hold more than 80 % of the burst
 * (16 of 20; never fewer than the steady rate), however the turns fall: a busy process that sends a few
 * turns late must not bunch more than 20 into one of Lever's seconds. Measured: 9.8–9.9 calls/s reach
 * Lever per account under constant overload (test/e2e/lever-proxy-budget.test.ts).
 */
export function effectiveLimits(c: BudgetClass): { intervalMs: number; toleranceMs: number; perSecond: number } {
  const burst = Math.max(1, Math.floor(c.burst * 0.75));
  const intervalMs = 1000 / (c.ratePerSecond * 0.975);
  return { intervalMs, toleranceMs: (burst - 1) * intervalMs, perSecond: Math.max(Math.ceil(c.ratePerSecond), c.burst - Math.max(1, Math.ceil(c.burst / 5))) };
}

export type Reservation = { granted: true; waitMs: number } | { granted: false; retryInMs: number };

export interface AccountBudget {
  /**
   * Reserves the account's next free turn in every class given, in arrival order across every process, and
   * says how long to wait for it (the caller sleeps that long once: nothing polls). Refused, reserving
   * nothing, when the turn is more than `maxWaitMs` away.
   */
  reserve(account: string, classes: readonly BudgetClass[], maxWaitMs: number): Promise<Reservation>;
  /**
   * Lever answered 429: nobody of this account goes before `ms` from now, and after that the account starts
   * again at the steady rate, without a burst (Lever's own bucket is empty).
   */
  pause(account: string, classes: readonly BudgetClass[], ms: number): Promise<void>;
}

/*
 * One reservation, atomically, with Redis's own clock (processes' clocks may disagree). Per class, the state
 * hash holds `tat` (GCRA's theoretical arrival time: a token bucket as one timestamp) and `pause` (a 429's
 * Retry-After end), and a sorted set holds the last `perSecond` turns: a token bucket alone lets burst +
 * rate calls into one second (15 at its start and 10 refilled), so no turn comes sooner than a second after
 * the perSecond-th turn before it (effectiveLimits). Within a class every constraint only moves later, so
 * turns are handed out first come, first served. A call of two classes (an application POST) goes at the later of its two turns; the
 * account's other calls do not queue behind it.
 *
 * KEYS: per class, its hash and its set. ARGV: maxWaitMs, then per class interval, tolerance, perSecond (ms, ms, n).
 * Returns {1, waitMs} (reserved) or {0, retryInMs} (too far away; nothing reserved).
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxWait = tonumber(ARGV[1])
local classes = #KEYS / 2
local at = now
local tats, own = {}, {}
for i = 1, classes do
  local state, turns = KEYS[2 * i - 1], KEYS[2 * i]
  local interval, tolerance, perSecond = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  local fields = redis.call('HMGET', state, 'tat', 'pause')
  local tat = tonumber(fields[1]) or now
  local c = math.max(now, tat - tolerance, tonumber(fields[2]) or 0)
  if redis.call('ZCARD', turns) >= perSecond then
    local oldest = redis.call('ZRANGE', turns, -perSecond, -perSecond, 'WITHSCORES')
    c = math.max(c, tonumber(oldest[2]) + 1000)
  end
  tats[i], own[i] = tat, c
  at = math.max(at, c)
end
if at - now > maxWait then return {0, math.ceil(at - now)} end
for i = 1, classes do
  local state, turns = KEYS[2 * i - 1], KEYS[2 * i]
  local interval, tolerance, perSecond = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  local seq = redis.call('HINCRBY', state, 'seq', 1)
  -- The bucket is drawn at this class's own turn: another class holding the call back (an application
  -- POST waiting for its 2/s) does not push the account's other calls back with it.
  redis.call('HSET', state, 'tat', math.max(tats[i], own[i]) + interval)
  redis.call('ZADD', turns, at, seq)
  redis.call('ZREMRANGEBYRANK', turns, 0, -perSecond - 1)
  local ttl = math.ceil(at - now + tolerance + 2000)
  redis.call('PEXPIRE', state, ttl)
  redis.call('PEXPIRE', turns, ttl)
end
return {1, math.ceil(at - now)}`;

/* KEYS: per class, its hash. ARGV: ms, then per class its tolerance. */
const PAUSE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[1])
for i = 1, #KEYS do
  local tolerance = tonumber(ARGV[i + 1])
  local fields = redis.call('HMGET', KEYS[i], 'tat', 'pause')
  redis.call('HSET', KEYS[i], 'pause', math.max(tonumber(fields[2]) or 0, untilMs),
    'tat', math.max(tonumber(fields[1]) or 0, untilMs + tolerance))
  redis.call('PEXPIRE', KEYS[i], math.ceil(untilMs - now + tolerance + 2000))
end
return 1`;


/**
 * Lever's rate limits per account (LEVER.md: 10 requests/s with bursts of 20; application POSTs 2/s), kept
 * in Redis so every api process draws from the same budget (DESIGN.md invariant 9). Why not a library
 * limiter (rate-limiter-flexible, bottleneck): they answer "allowed now or not", so a caller over budget must
 * poll; a reservation says when its turn is, so it waits once, in order, and a turn that would be too far
 * away is refused without taking anything.
 */
type Scripted = Redis & {
  leverApiReserve(numKeys: number, ...args: Array<string | number>): Promise<[number, number]>;
  leverApiPause(numKeys: number, ...args: Array<string | number>): Promise<number>;
};

export function createAccountBudget(deps: { redis: Redis; prefix: string }): AccountBudget {
  const keys = (account: string, c: BudgetClass) => [`${deps.prefix}:lever-api:${c.name}:${account}`, `${deps.prefix}:lever-api:${c.name}:${account}:turns`];
  // EVALSHA, not EVAL: the scripts' text goes to Redis once per connection, not with every call.
  const redis = deps.redis as Scripted;
  if (!redis.leverApiReserve) redis.defineCommand('leverApiReserve', { lua: RESERVE });
  if (!redis.leverApiPause) redis.defineCommand('leverApiPause', { lua: PAUSE });
  return {
    async reserve(account, classes, maxWaitMs) {
      const args = classes.flatMap((c) => {
        const { intervalMs, toleranceMs, perSecond } = effectiveLimits(c);
        return [intervalMs, toleranceMs, perSecond];
      });
      const [granted, ms] = await redis.leverApiReserve(classes.length * 2, ...classes.flatMap((c) => keys(account, c)), maxWaitMs, ...args);
      return granted === 1 ? { granted: true, waitMs: ms } : { granted: false, retryInMs: ms };
    },
    async pause(account, classes, ms) {
      await redis.leverApiPause(classes.length, ...classes.map((c) => keys(account, c)[0]!), Math.max(0, Math.round(ms)), ...classes.map((c) => effectiveLimits(c).toleranceMs));
    },
  };
}
