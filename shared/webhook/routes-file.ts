/** A webhook routes file read from disk: the webhook function (WEBHOOK_ROUTES_FILE) and `housekeeper webhook serve`. */
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { parseWebhookConfig, type WebhookConfig } from "./routes.ts";

/** Reads and compiles a routes file (JSON). */
export function loadWebhookConfigFile(path: string, baseDir?: string): WebhookConfig {
  const full = isAbsolute(path) ? path : resolve(baseDir ?? process.cwd(), path);
  let text: string;
  try {
    text = readFileSync(full, "utf8");
  } catch (error) {
    throw new HousekeeperError("bad-input", `cannot read the webhook routes file ${full}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  return parseWebhookConfig(text, `the webhook routes in ${full}`);
}
