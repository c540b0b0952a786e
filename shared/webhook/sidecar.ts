/**
 * The sidecar client the webhook uses, with its API token given as a secret reference (env:, secretsmanager:, ARN or
 * literal): the reference is resolved on every request through the cached resolver, and a new client is made when
 * the token changed (rotation), the old one closed a little later so calls in progress finish.
 *
 * Retries are short here: a webhook sender retries on its own, and API Gateway gives up after 30 s, so the client
 * retries only briefly (what cannot have taken effect: refused connections, 503/429) before the job answers 503.
 */

import { HttpSidecarClient, type HttpSidecarClientOptions } from "../sidecar/http-client.ts";
import type { RetryPolicy } from "../sidecar/retry.ts";
import type { WorkflowSidecar } from "../sidecar/types.ts";
import type { SecretResolver } from "../util/secrets.ts";
import { sidecarTimeoutOptions } from "../util/timeouts.ts";

export type WebhookSidecar = Pick<WorkflowSidecar, "start" | "raiseEvent" | "get">;

export interface WebhookSidecarSource {
  get(): Promise<WebhookSidecar>;
  close(): Promise<void>;
}

export const WEBHOOK_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 500,
  maxElapsedMs: 2_000,
};

export interface WebhookSidecarOptions {
  url: string;
  /** The Dapr API token or a reference to it; undefined or "" = none. */
  apiToken?: string | undefined;
  /** Default app hosting the workflows (routes may name their own). */
  appId?: string | undefined;
  secrets: SecretResolver;
  retry?: Partial<RetryPolicy> | false | undefined;
  /** Other client options (timeouts, pool size). */
  client?: Omit<HttpSidecarClientOptions, "url" | "apiToken" | "appId" | "retry"> | undefined;
}

export function webhookSidecarSource(options: WebhookSidecarOptions): WebhookSidecarSource {
  let current: { token: string | undefined; client: HttpSidecarClient } | undefined;
  const retired = new Set<HttpSidecarClient>();
  const make = (token: string | undefined) =>
    new HttpSidecarClient({
      requestTimeoutMs: 10_000,
      ...sidecarTimeoutOptions().http,
      ...options.client,
      url: options.url,
      apiToken: token,
      appId: options.appId,
      retry: options.retry ?? WEBHOOK_RETRY_POLICY,
    });
  return {
    async get() {
      const token = options.apiToken ? await options.secrets.resolve(options.apiToken) : undefined;
      if (current && current.token === token) return current.client;
      const previous = current?.client;
      const next = { token, client: make(token) };
      current = next;
      if (previous) {
        retired.add(previous);
        setTimeout(() => {
          retired.delete(previous);
          void previous.close().catch(() => {});
        }, 30_000).unref();
      }
      return next.client;
    },
    async close() {
      const clients = [...retired, ...(current ? [current.client] : [])];
      retired.clear();
      current = undefined;
      await Promise.allSettled(clients.map((c) => c.close()));
    },
  };
}
