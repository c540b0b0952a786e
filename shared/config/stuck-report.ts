/**
 * The stuck report's settings that both doors share (functions/stuck-report/settings.ts and `housekeeper report
 * stuck`); their durations and `STATUS=duration,…` lists are parsed by shared/util/duration.ts.
 */
import type { RuntimeStatus } from "../workflow/runtime-status.ts";
import { TERMINAL_STATUSES } from "../workflow/runtime-status.ts";

export const TERMINAL_STATUS_LIST = [...TERMINAL_STATUSES] as RuntimeStatus[];
