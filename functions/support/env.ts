/**
 * The typed contract between the stack and the functions' environments: infra/ builds each function's variables with
 * `functionEnvironment(<that function's env schema>, {...})`, so a name the function does not read fails `tsc`, and
 * test/infra/env-contract.test.ts feeds every synthesized environment through the function's own settings parser.
 * Kept free of heavy imports: the CDK app imports it.
 */
import type { z } from "zod";
import { CONNECT_TIMEOUT_ENV, REQUEST_TIMEOUT_ENV } from "../../shared/util/timeouts.ts";

/**
 * Variables every function has besides its own (infra/constructs/housekeeper-function.ts and the stack set them):
 * read by Node, Powertools, the network timeouts (shared/config/timeouts.ts) and the reports' tool version.
 */
export const COMMON_ENV_NAMES = [
  "NODE_OPTIONS",
  "POWERTOOLS_METRICS_NAMESPACE",
  "POWERTOOLS_LOG_LEVEL",
  "POWERTOOLS_SERVICE_NAME",
  "POWERTOOLS_TRACE_ENABLED",
  "HOUSEKEEPER_VERSION",
  CONNECT_TIMEOUT_ENV,
  REQUEST_TIMEOUT_ENV,
] as const;

export type EnvValue = string | number | undefined;

/** The variables a function's env schema names, each optional here (the parser says which are required). */
export type FunctionEnv<S extends z.ZodObject> = { [K in keyof S["shape"]]?: EnvValue };

/** Lambda environment values are strings: numbers are written out, undefined and empty values left out. */
export function functionEnvironment<S extends z.ZodObject>(_schema: S, values: FunctionEnv<S>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values as Record<string, EnvValue>)) {
    if (v !== undefined && v !== "") out[k] = String(v);
  }
  return out;
}

/** The names a function reads: its schema's and the common ones. */
export function envNames(schema: z.ZodObject): Set<string> {
  return new Set([...Object.keys(schema.shape), ...COMMON_ENV_NAMES]);
}
