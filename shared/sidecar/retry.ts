/**
 * Bounded retries with exponential backoff and full jitter (sleep = random(0, min(cap, base·2^n))), capped both in
 * attempts and in total time, honouring a server's Retry-After. Which failures are retried is the caller's decision:
 * the clients only retry what cannot have had an effect (see http-client.ts).
 */

export interface RetryPolicy {
  /** Attempts in all, the first one included (1 = no retry). */
  maxAttempts: number;
  /** Backoff base: the n-th retry waits up to base·2^(n-1). */
  baseDelayMs: number;
  /** Cap of a single wait (Retry-After may ask for more, within maxElapsedMs). */
  maxDelayMs: number;
  /** No retry starts after this much time since the first attempt; a wait that would cross it is not taken. */
  maxElapsedMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  maxElapsedMs: 15_000,
};

export const NO_RETRY: RetryPolicy = { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0, maxElapsedMs: 0 };

export function retryPolicy(option: Partial<RetryPolicy> | false | undefined): RetryPolicy {
  if (option === false) return NO_RETRY;
  return { ...DEFAULT_RETRY_POLICY, ...option };
}

/** Full-jitter delay before retry number `retry` (1 for the first retry). */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const sleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** What the caller decided about one failed attempt. */
export interface RetryDecision {
  retry: boolean;
  /** The server's Retry-After, in ms: the wait is at least this long. */
  retryAfterMs?: number | undefined;
}

export interface RetryRun {
  policy: RetryPolicy;
  decide: (error: unknown, attempt: number) => RetryDecision;
  /** Runs after the wait and before the next attempt; throwing stops the retries with that error. */
  beforeRetry?: (error: unknown, attempt: number) => Promise<void>;
  signal?: AbortSignal | undefined;
  random?: () => number;
  sleep?: Sleep;
  now?: () => number;
}

/** Runs `attempt` until it succeeds, the decision says stop, or the attempt/time budget is spent (last error thrown). */
export async function withRetries<T>(run: RetryRun, attempt: (n: number) => Promise<T>): Promise<T> {
  const now = run.now ?? Date.now;
  const started = now();
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (n >= run.policy.maxAttempts || run.signal?.aborted) throw error;
      const decision = run.decide(error, n);
      if (!decision.retry) throw error;
      const jitter = backoffDelay(run.policy, n, run.random);
      const wait = Math.max(jitter, decision.retryAfterMs ?? 0);
      if (now() - started + wait > run.policy.maxElapsedMs) throw error;
      await (run.sleep ?? sleep)(wait, run.signal);
      if (run.beforeRetry) await run.beforeRetry(error, n);
    }
  }
}
