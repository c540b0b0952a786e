/**
 * Configuration of the reminder restore function: the same storage environment as the backup (see
 * functions/reminder-backup/settings.ts) plus the invocation's request, validated with zod.
 *
 *   { "backupKey": "reminders/dapr-system/20260125T093015.123Z.bin" | "latest",
 *     "dryRun": false, "conflictPolicy": "skip-existing" | "overwrite", "prefix": "workflow/my-app",
 *     "daprNamespace": "default", "allowMissingManifest": false }
 */
import { z } from "zod";
import type { ReminderRestoreRequest } from "../../shared/jobs/reminder-restore.ts";
import { reminderStorageEnvSchema, type StorageSettings, storageSettings } from "../reminder-backup/settings.ts";
import { parseOrThrow } from "../support/parse.ts";

/** The restore reads the backups where the backup function writes them: the same storage environment. */
export const reminderRestoreEnvSchema = reminderStorageEnvSchema;

export const reminderRestoreEventSchema = z
  .object({
    backupKey: z
      .string({ error: 'backupKey is required: an object key ending in .bin, or "latest"' })
      .trim()
      .min(1, 'backupKey is required: an object key ending in .bin, or "latest"')
      .refine((k) => k === "latest" || k.endsWith(".bin"), 'backupKey must end in .bin or be "latest"'),
    dryRun: z.boolean().optional(),
    conflictPolicy: z.enum(["skip-existing", "overwrite"]).optional(),
    prefix: z
      .string()
      .regex(/^(all|app|actor|workflow)(\/[^/]+){0,2}$/, "a delete-all prefix such as workflow/my-app")
      .optional(),
    daprNamespace: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)
      .optional(),
    allowMissingManifest: z.boolean().optional(),
  })
  .strict();

export type ReminderRestoreEvent = z.output<typeof reminderRestoreEventSchema>;

export interface ReminderRestoreSettings extends StorageSettings {
  request: ReminderRestoreRequest;
}

/** Environment + invocation payload → validated settings; HousekeeperError("bad-input") naming every problem. */
export function reminderRestoreSettings(env: NodeJS.ProcessEnv, event: unknown): ReminderRestoreSettings {
  const e = parseOrThrow(reminderRestoreEnvSchema, env, "environment");
  const input = parseOrThrow(reminderRestoreEventSchema, event ?? {}, "request");
  const request: ReminderRestoreRequest = {
    backupKey: input.backupKey,
    ...(e.BACKUP_PREFIX !== undefined ? { keyPrefix: e.BACKUP_PREFIX } : {}),
    ...(e.SCHEDULER_NAMESPACE ? { schedulerNamespace: e.SCHEDULER_NAMESPACE } : {}),
    ...(input.daprNamespace || e.DAPR_NAMESPACE ? { daprNamespace: input.daprNamespace ?? e.DAPR_NAMESPACE! } : {}),
    ...(input.dryRun !== undefined ? { dryRun: input.dryRun } : {}),
    ...(input.conflictPolicy ? { conflictPolicy: input.conflictPolicy } : {}),
    ...(input.prefix ? { prefix: input.prefix } : {}),
    ...(input.allowMissingManifest !== undefined ? { allowMissingManifest: input.allowMissingManifest } : {}),
  };
  return { ...storageSettings(e), request };
}
