/**
 * Synthesizes the stack for the infra tests: the example configuration (optionally changed), bundled for real with
 * esbuild or with bundling skipped (`aws:cdk:bundling-stacks: []`; the assets are then a fingerprint of the project).
 * Each test file synthesizes once per configuration and shares the template.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { type HousekeeperConfig, parseConfig, readConfigFile } from "../../infra/config.ts";
import { FUNCTION_NAMES, type FunctionName, functionEntry } from "../../infra/constructs/housekeeper-function.ts";
import { HousekeeperStack } from "../../infra/housekeeper-stack.ts";

/** CloudFormation JSON of the synthesized template (or a raw config document), navigated freely by assertions. */
// biome-ignore lint/suspicious/noExplicitAny: template JSON has no static shape; the assertions check it
export type JsonObject = Record<string, any>;

/** Synthesizing bundles the functions (a few seconds each): far beyond vitest's default per-test budget. */
export const SYNTH_TIMEOUT_MS = 300_000;

export const EXAMPLE_CONFIG_PATH = join(import.meta.dirname, "../../infra/config.example.json");

/** Functions whose entry is not written yet are left out of the tests (and named in the output). */
export const MISSING_ENTRIES: FunctionName[] = FUNCTION_NAMES.filter((name) => !existsSync(functionEntry(name)));
if (MISSING_ENTRIES.length > 0) {
  console.warn(`infra tests: no entry yet for ${MISSING_ENTRIES.join(", ")}: those functions are left out`);
}
export const WEBHOOK_PRESENT = !MISSING_ENTRIES.includes("webhook");

const CONFIG_KEY: Record<FunctionName, "purge" | "stuckReport" | "reminderBackup" | "reminderRestore" | "webhook"> = {
  purge: "purge",
  "stuck-report": "stuckReport",
  "reminder-backup": "reminderBackup",
  "reminder-restore": "reminderRestore",
  webhook: "webhook",
};

/** The example configuration as JSON, with changes applied to the raw document, then validated. */
export function exampleConfig(change?: (raw: JsonObject) => void): HousekeeperConfig {
  const raw = structuredClone(readConfigFile(EXAMPLE_CONFIG_PATH)) as JsonObject;
  for (const name of MISSING_ENTRIES) {
    const key = CONFIG_KEY[name];
    if (raw[key]) raw[key].enabled = false;
  }
  change?.(raw);
  return parseConfig(raw, "test");
}

/** cdk.json's feature flags (`@aws-cdk/...` context keys). */
export const CDK_FEATURE_FLAGS: Record<string, unknown> = Object.fromEntries(
  Object.entries(
    (
      JSON.parse(readFileSync(join(import.meta.dirname, "../../cdk.json"), "utf8")) as {
        context: Record<string, unknown>;
      }
    ).context,
  ).filter(([key]) => key.startsWith("@aws-cdk")),
);

export interface Synthesized {
  app: App;
  stack: HousekeeperStack;
  template: Template;
  outdir: string;
}

export function synth(config: HousekeeperConfig, options: { bundle: boolean }): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), "housekeeper-cdk-"));
  const app = new App({
    outdir,
    // The feature flags `cdk synth` uses (cdk.json), so the tests check the template that deploys.
    context: { ...CDK_FEATURE_FLAGS, ...(options.bundle ? {} : { "aws:cdk:bundling-stacks": [] }) },
  });
  const stack = new HousekeeperStack(app, "Test", {
    config,
    env: { account: "123456789012", region: "eu-west-1" },
  });
  const template = Template.fromStack(stack);
  return { app, stack, template, outdir };
}

/** The resource whose logical ID starts with the construct path's IDs (`Purge`, `Function`, ...). */
export function logicalIdOf(stack: HousekeeperStack, construct: { node: { defaultChild?: unknown } }): string {
  const child = construct.node.defaultChild as Parameters<HousekeeperStack["getLogicalId"]>[0];
  return stack.resolve(stack.getLogicalId(child)) as string;
}

/** All statements of every IAM policy attached to a role (by the role's logical ID). */
export function statementsOfRole(template: Template, roleLogicalId: string): Array<JsonObject> {
  const policies = template.findResources("AWS::IAM::Policy");
  const out: Array<JsonObject> = [];
  for (const policy of Object.values(policies)) {
    const roles = (policy.Properties.Roles ?? []) as Array<{ Ref?: string }>;
    if (roles.some((r) => r.Ref === roleLogicalId)) out.push(...policy.Properties.PolicyDocument.Statement);
  }
  return out;
}

export const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Actions granted by the statements, sorted. */
export function actionsOf(statements: Array<JsonObject>): string[] {
  return [...new Set(statements.flatMap((s) => asArray(s.Action as string | string[])))].sort();
}
