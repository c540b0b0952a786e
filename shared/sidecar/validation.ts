/**
 * Dapr's own input rules for the workflow API, checked before any call so a bad ID never leaves the process.
 *
 * dapr master pkg/api/universal/workflow.go `validateInstanceID(id, isCreate)`:
 *  - every operation: the ID must not be empty (ERR_INSTANCE_ID_PROVIDED_MISSING);
 *  - start only: at most 64 *bytes* (Go `len` of the UTF-8 string; ERR_INSTANCE_ID_TOO_LONG), checked first, then
 *    every rune must be `unicode.IsLetter`, `unicode.IsDigit`, `_` or `-` (ERR_INSTANCE_ID_INVALID). Letters and
 *    digits are Unicode (categories L and Nd), not just ASCII.
 * Other operations accept any non-empty ID, because IDs created over durabletask gRPC (SDKs, `dapr workflow run`,
 * child workflows `parent:0001`) are never validated. `targetAppID` applies `common.ValidAppID` (same runes, may be
 * empty) to the optional `appID` query parameter (ERR_WORKFLOW_APP_ID_INVALID). Messages are Dapr's, verbatim.
 */
import { SidecarError, type SidecarOperation } from "./errors.ts";

export const MAX_INSTANCE_ID_BYTES = 64;

const VALID_RUNES = /^[\p{L}\p{Nd}_-]*$/u;

export interface InstanceIdProblem {
  errorCode: "ERR_INSTANCE_ID_PROVIDED_MISSING" | "ERR_INSTANCE_ID_TOO_LONG" | "ERR_INSTANCE_ID_INVALID";
  message: string;
}

/** Returns Dapr's complaint about an instance ID, or undefined when Dapr would accept it. */
export function instanceIdProblem(instanceId: string, isCreate: boolean): InstanceIdProblem | undefined {
  if (instanceId === "") {
    return { errorCode: "ERR_INSTANCE_ID_PROVIDED_MISSING", message: "no instance ID was provided" };
  }
  if (!isCreate) return undefined;
  if (Buffer.byteLength(instanceId, "utf8") > MAX_INSTANCE_ID_BYTES) {
    return {
      errorCode: "ERR_INSTANCE_ID_TOO_LONG",
      message: `workflow instance ID exceeds the max length of ${MAX_INSTANCE_ID_BYTES} characters`,
    };
  }
  if (!VALID_RUNES.test(instanceId)) {
    return {
      errorCode: "ERR_INSTANCE_ID_INVALID",
      message: `workflow instance ID '${instanceId}' is invalid: only alphanumeric and underscore characters are allowed`,
    };
  }
  return undefined;
}

/** Throws a bad-request SidecarError (Dapr's code and message) unless Dapr would accept the instance ID. */
export function validateInstanceId(instanceId: string, isCreate: boolean, operation: SidecarOperation): void {
  const problem = instanceIdProblem(instanceId, isCreate);
  if (problem) throw new SidecarError("bad-request", problem.message, { operation, errorCode: problem.errorCode });
}

/** Dapr's `common.ValidAppID`: letters, digits, `_` and `-` only (the empty string passes: "the local app"). */
export function isValidAppId(appId: string): boolean {
  return VALID_RUNES.test(appId);
}

export function validateAppId(appId: string | undefined, operation: SidecarOperation): void {
  if (appId === undefined || isValidAppId(appId)) return;
  throw new SidecarError(
    "bad-request",
    `workflow app ID '${appId}' is invalid: only alphanumeric, dash and underscore characters are allowed`,
    { operation, errorCode: "ERR_WORKFLOW_APP_ID_INVALID" },
  );
}

export function validateWorkflowName(name: string, operation: SidecarOperation): void {
  if (name === "") {
    throw new SidecarError("bad-request", "workflow name is not configured", {
      operation,
      errorCode: "ERR_WORKFLOW_NAME_MISSING",
    });
  }
}

export function validateEventName(name: string, operation: SidecarOperation): void {
  if (name === "") {
    throw new SidecarError("bad-request", "missing workflow event name", {
      operation,
      errorCode: "ERR_WORKFLOW_EVENT_NAME_MISSING",
    });
  }
}
