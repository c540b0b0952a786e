/**
 * A target is one Dapr app whose workflows a job looks after: where its state store, sidecar and Scheduler are.
 * Secrets (connection strings, API tokens) may be given as references resolved by shared/util/secrets.ts.
 */
import { z } from "zod";
import { isSecretReference } from "../util/secrets.ts";
import { shardSchema } from "../workflow/shard.ts";

export const targetSchema = z
  .object({
    appId: z.string().min(1, "appId is required"),
    namespace: z.string().min(1).default("default"),
    stateStore: z
      .object({
        /** A connection string in one of Dapr's documented forms, or a secret reference (env:, secretsmanager:, ARN). */
        connectionString: z.string().min(1),
        tableName: z.string().min(1).optional(),
      })
      .strict(),
    sidecar: z
      .object({
        url: z.url().default("http://127.0.0.1:3500"),
        /** The Dapr API token, or a secret reference. */
        apiToken: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    scheduler: z
      .object({
        etcdEndpoints: z.array(z.string().min(1)).min(1),
        /** Secret reference to JSON {"ca", "cert", "key"} (PEM) for etcd's TLS (shared/scheduler/etcd-tls-secret.ts). */
        tlsSecret: z
          .string()
          .refine(isSecretReference, "a secret reference (env:NAME, secretsmanager:<name> or an ARN), never PEM inline")
          .optional(),
      })
      .strict()
      .optional(),
    /** Only this shard of the app's instances (1-based `{index, count}`); the N shards together are the whole app. */
    shard: shardSchema.optional(),
  })
  .strict();

export type Target = z.infer<typeof targetSchema>;
