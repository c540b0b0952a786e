/** Text shared by the purge lines of `workflow purge` and `retention run`. */
import type { PurgeDecision } from "../../shared/jobs/retention-purge.ts";

/** `, with child workflow(s) "a", "b"`: what a direct purge removed along with the parent. */
export function withChildren(d: Pick<PurgeDecision, "children">): string {
  if (!d.children?.length) return "";
  return `, with child workflow(s) ${d.children.map((c) => JSON.stringify(c)).join(", ")}`;
}
