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

/**
 * A GCRA bucket that must have room for a call to get its turn, checked and taken in the same script run
 * as the turn (the per-tenant and per-key quotas, access/quotas.ts): one round trip to Redis per call
 * instead of one per bucket, and all or nothing: a call refused for its turn costs its quotas nothing,
 * and a call refused by a quota reserves no turn.
 */
export interface Gate {
  /** The bucket's whole Redis key. */
  key: string;
  intervalMs: number;
  toleranceMs: number;
}

export type Reservation =
  | { granted: true; waitMs: number }
  /** The turn is too far away (`gate` absent), or gate number `gate` (an index of the gates given) has no room for `retryInMs`. */
  | { granted: false; retryInMs: number; gate?: number };

export interface AccountBudget {
  /**
   * Reserves the account's next free turn in every class given, in arrival order across every process, and
   * says how long to wait for it (the caller sleeps that long once: nothing polls). Refused, reserving
   * nothing, when the turn is more than `maxWaitMs` away, or when one of `gates` has no room (checked
   * first; taken only with the turn).
   */
  reserve(account: string, classes: readonly BudgetClass[], maxWaitMs: number, gates?: readonly Gate[]): Promise<Reservation>;
  /**
   * Lever answered 429: nobody of this account goes before `ms` from now, and after that the account starts
   * again at the steady rate, without a burst (Lever's own bucket is empty).
   */
  pause(account: string, classes: readonly BudgetClass[], ms: number): Promise<void>;
}

/*
 * Reservations, atomically, with Redis's own clock (processes' clocks may disagree). Per class, the state
 * hash holds `tat` (GCRA's theoretical arrival time: a token bucket as one timestamp) and `pause` (a 429's
 * Retry-After end), and a sorted set holds the last `perSecond` turns: a token bucket alone lets burst +
 * rate calls into one second (15 at its start and 10 refilled), so no turn comes sooner than a second after
 * the perSecond-th turn before it (effectiveLimits). Within a class every constraint only moves later, so
 * turns are handed out first come, first served. A call of two classes (an application POST) goes at the
 * later of its two turns; the account's other calls do not queue behind it.
 *
 * One script call reserves the turns of several calls of one account and class set in arrival order (a
 * process batches the calls that arrive while its previous reservation is at Redis): the state is read
 * once and written once per batch, so a busy process pays one round trip and one script run for many calls.
 *
 * Each call may bring gates (Gate): GCRA buckets checked before its turn and taken only with it.
 *
 * KEYS: per class, its hash and its set; then the batch's gate keys, each once. ARGV: n, the number of
 * classes, then per class interval, tolerance, perSecond (ms, ms, n), then per call its maxWaitMs, its
 * number of gates g and g times (gate key's index among the gate keys, interval, tolerance). Returns per
 * call {1, waitMs, 0} (reserved), {0, retryInMs, 0} (too far away) or {2, retryInMs, j} (gate j of the
 * call, 1-based, has no room), flattened; a refused call reserves and takes nothing.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local classes = tonumber(ARGV[2])
local st = {}
for i = 1, classes do
  local state = KEYS[2 * i - 1]
  local c = { state = state, turns = KEYS[2 * i], interval = tonumber(ARGV[3 * i]), tolerance = tonumber(ARGV[3 * i + 1]), perSecond = tonumber(ARGV[3 * i + 2]) }
  local fields = redis.call('HMGET', state, 'tat', 'pause')
  c.tat = tonumber(fields[1]) or now
  c.pause = tonumber(fields[2]) or 0
  c.size = redis.call('ZCARD', c.turns)
  -- Members must be unique: n numbers are taken per batch (those of refused calls go unused).
  c.seq = redis.call('HINCRBY', state, 'seq', n) - n
  c.added = 0
  st[i] = c
end
local gateTat = {}
local gateDirty = {}
local arg = 3 * classes + 3
local out = {}
local lastAt = now
for k = 1, n do
  local maxWait = tonumber(ARGV[arg])
  local g = tonumber(ARGV[arg + 1])
  local gates = {}
  for j = 1, g do
    local base = arg + 2 + 3 * (j - 1)
    local key = KEYS[2 * classes + tonumber(ARGV[base])]
    if gateTat[key] == nil then gateTat[key] = tonumber(redis.call('GET', key) or now) end
    gates[j] = { key = key, interval = tonumber(ARGV[base + 1]), tolerance = tonumber(ARGV[base + 2]) }
  end
  arg = arg + 2 + 3 * g
  local closed = 0
  local closedFor = 0
  for j = 1, g do
    local tat = math.max(gateTat[gates[j].key], now)
    if closed == 0 and tat - now > gates[j].tolerance then
      closed = j
      closedFor = math.ceil(tat - now - gates[j].tolerance)
    end
  end
  if closed > 0 then
    out[#out + 1] = 2
    out[#out + 1] = closedFor
    out[#out + 1] = closed
  else
    local at = now
    local own = {}
    for i = 1, classes do
      local c = st[i]
      local o = math.max(now, c.tat - c.tolerance, c.pause)
      if c.size >= c.perSecond then
        local oldest = redis.call('ZRANGE', c.turns, -c.perSecond, -c.perSecond, 'WITHSCORES')
        o = math.max(o, tonumber(oldest[2]) + 1000)
      end
      own[i] = o
      at = math.max(at, o)
    end
    if at - now > maxWait then
      out[#out + 1] = 0
      out[#out + 1] = math.ceil(at - now)
      out[#out + 1] = 0
    else
      for j = 1, g do
        local gate = gates[j]
        gateTat[gate.key] = math.max(gateTat[gate.key], now) + gate.interval
        gateDirty[gate.key] = true
      end
      for i = 1, classes do
        local c = st[i]
        -- The bucket is drawn at this class's own turn: another class holding the call back (an application
        -- POST waiting for its 2/s) does not push the account's other calls back with it.
        c.tat = math.max(c.tat, own[i]) + c.interval
        redis.call('ZADD', c.turns, at, c.seq + k)
        c.size = c.size + 1
        c.added = c.added + 1
      end
      lastAt = math.max(lastAt, at)
      out[#out + 1] = 1
      out[#out + 1] = math.ceil(at - now)
      out[#out + 1] = 0
    end
  end
end
for key in pairs(gateDirty) do
  redis.call('SET', key, gateTat[key], 'PX', math.ceil(gateTat[key] - now + 1000))
end
for i = 1, classes do
  local c = st[i]
  if c.added > 0 then
    redis.call('HSET', c.state, 'tat', c.tat)
    redis.call('ZREMRANGEBYRANK', c.turns, 0, -c.perSecond - 1)
    local ttl = math.ceil(lastAt - now + c.tolerance + 2000)
    redis.call('PEXPIRE', c.state, ttl)
    redis.call('PEXPIRE', c.turns, ttl)
  end
end
return out`;

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


type Scripted = Redis & {
  leverApiReserve(numKeys: number, ...args: Array<string | number>): Promise<number[]>;
  leverApiPause(numKeys: number, ...args: Array<string | number>): Promise<number>;
};

/** At most this many calls in one script run (bounds its time in Redis, which serves everyone else meanwhile). */
const MAX_BATCH = 64;

interface Waiting {
  maxWaitMs: number;
  gates: readonly Gate[];
  resolve(reservation: Reservation): void;
  reject(error: unknown): void;
}

/**
 * Lever's rate limits per account (LEVER.md: 10 requests/s with bursts of 20; application POSTs 2/s), kept
 * in Redis so every api process draws from the same budget (DESIGN.md invariant 9). Why not a library
 * limiter (rate-limiter-flexible, bottleneck): they answer "allowed now or not", so a caller over budget must
 * poll; a reservation says when its turn is, so it waits once, in order, and a turn that would be too far
 * away is refused without taking anything.
 */
export function createAccountBudget(deps: { redis: Redis; prefix: string }): AccountBudget {
  const keys = (account: string, c: BudgetClass) => [`${deps.prefix}:lever-api:${c.name}:${account}`, `${deps.prefix}:lever-api:${c.name}:${account}:turns`];
  // EVALSHA, not EVAL: the scripts' text goes to Redis once per connection, not with every call.
  const redis = deps.redis as Scripted;
  if (!redis.leverApiReserve) redis.defineCommand('leverApiReserve', { lua: RESERVE });
  if (!redis.leverApiPause) redis.defineCommand('leverApiPause', { lua: PAUSE });

  /**
   * Calls of one account and class set that arrive while a reservation of theirs is at Redis wait here and
   * go together in the next script run, in arrival order. The first call of a quiet account goes at once.
   */
  const queues = new Map<string, Waiting[]>();

  async function drain(queueKey: string, account: string, classes: readonly BudgetClass[], queue: Waiting[]): Promise<void> {
    const classKeys = classes.flatMap((c) => keys(account, c));
    const classArgs = classes.flatMap((c) => {
      const { intervalMs, toleranceMs, perSecond } = effectiveLimits(c);
      return [intervalMs, toleranceMs, perSecond];
    });
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_BATCH);
      // The batch's gate keys, each once (calls of one tenant share its quota bucket).
      const gateKeys: string[] = [];
      const gateIndex = new Map<string, number>();
      const callArgs = batch.flatMap((w) => [
        w.maxWaitMs,
        w.gates.length,
        ...w.gates.flatMap((gate) => {
          let index = gateIndex.get(gate.key);
          if (index === undefined) {
            index = gateKeys.push(gate.key);
            gateIndex.set(gate.key, index);
          }
          return [index, gate.intervalMs, gate.toleranceMs];
        }),
      ]);
      try {
        const out = await redis.leverApiReserve(classKeys.length + gateKeys.length, ...classKeys, ...gateKeys, batch.length, classes.length, ...classArgs, ...callArgs);
        batch.forEach((w, i) => {
          const [kind, ms, gate] = [out[3 * i]!, out[3 * i + 1]!, out[3 * i + 2]!];
          w.resolve(kind === 1 ? { granted: true, waitMs: ms } : kind === 2 ? { granted: false, retryInMs: ms, gate: gate - 1 } : { granted: false, retryInMs: ms });
        });
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    queues.delete(queueKey);
  }

  return {
    reserve(account, classes, maxWaitMs, gates = []) {
      const queueKey = `${account}\n${classes.map((c) => `${c.name}:${c.ratePerSecond}:${c.burst}`).join(',')}`;
      return new Promise<Reservation>((resolve, reject) => {
        const queue = queues.get(queueKey);
        if (queue) {
          queue.push({ maxWaitMs, gates, resolve, reject });
          return;
        }
        const fresh: Waiting[] = [{ maxWaitMs, gates, resolve, reject }];
        queues.set(queueKey, fresh);
        void drain(queueKey, account, classes, fresh);
      });
    },
    async pause(account, classes, ms) {
      await redis.leverApiPause(classes.length, ...classes.map((c) => keys(account, c)[0]!), Math.max(0, Math.round(ms)), ...classes.map((c) => effectiveLimits(c).toleranceMs));
    },
  };
}
