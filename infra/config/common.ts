/** Pieces of the deployment configuration's schema that several sections use (infra/config.ts). */
import { z } from "zod";
import { DURATION_DOORS, parseDuration } from "../../shared/util/duration.ts";
import { parseTimeout } from "../../shared/util/timeouts.ts";

/** A complete Secrets Manager ARN: it ends in the 6-character suffix Secrets Manager appends to the name. */
export const SECRET_ARN_PATTERN =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;

export const secretArn = z
  .string()
  .regex(
    SECRET_ARN_PATTERN,
    "a complete Secrets Manager ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 chars>)",
  );

export const timeoutText = z.string().superRefine((text, ctx) => {
  try {
    parseTimeout(text, "timeout");
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
  }
});

/** RETENTION_KEEP_WITHIN as the reminder backup function reads it (shared/util/duration.ts, the `age` door). */
export const keepWithinText = z.string().superRefine((text, ctx) => {
  try {
    parseDuration(text, DURATION_DOORS.age);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
  }
});

export const kmsKeyArn = z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, "a KMS key ARN");

/** Retention values CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export const logRetentionDays = z
  .number()
  .int()
  .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
    message: `one of ${LOG_RETENTION_DAYS.join(", ")}`,
  });

/** An S3 key prefix without leading or trailing slash. */
export const keyPrefix = z
  .string()
  .regex(/^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/, "a key prefix like `reminders` or `reports/purge`");

export const scheduleSchema = z
  .object({
    /** `cron(0 3 * * ? *)` or `rate(6 hours)` (EventBridge Scheduler syntax). */
    expression: z.string().regex(/^(cron|rate)\(.+\)$/, "cron(...) or rate(...)"),
    /** IANA time zone the cron expression is in. */
    timezone: z.string().min(1).default("UTC"),
    /** Flexible time window: the run starts at a random time within this many minutes (0 = exactly on time). */
    flexibleWindowMinutes: z.number().int().min(0).max(1440).default(15),
    enabled: z.boolean().default(true),
    /** Retries of a delivery the target refused (throttling, missing permission) before the dead-letter queue. */
    retryAttempts: z.number().int().min(0).max(185).default(3),
    /** Give up (dead-letter queue) on a delivery older than this. */
    maxEventAgeMinutes: z.number().int().min(1).max(1440).default(60),
  })
  .strict();

export const tuning = {
  memoryMb: z.number().int().min(128).max(10240),
  timeoutSeconds: z.number().int().min(1).max(900),
  /** Reserved concurrency; omit for none. Also the throttle of a Function URL. */
  reservedConcurrency: z.number().int().min(1).optional(),
  /** Place the function in the VPC of `network` (needed to reach the state store, the sidecar, etcd). */
  inVpc: z.boolean().default(true),
};

export const etcdSchema = z
  .object({
    /** host:port (or http(s)://host:port) of the Dapr Scheduler's etcd. */
    endpoints: z.array(z.string().min(1)).min(1),
    /** Where Dapr's `dapr/` keys live in that etcd (default `dapr/`). */
    keyRoot: z.string().endsWith("/").optional(),
    /**
     * Secret holding JSON {"ca": PEM, "cert": PEM, "key": PEM} (each optional, cert and key together): a private CA
     * and/or a client certificate for etcd's TLS. An https:// endpoint alone uses the public root CAs.
     */
    tlsSecretArn: secretArn.optional(),
  })
  .strict();

export const daprName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only");
