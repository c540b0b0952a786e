/** The one way a zod validation failure becomes text: one line an operator can act on. */
import type { z } from "zod";

export interface IssueFormat {
  /** Names an issue about the value itself (empty path); without it such an issue is its bare message. */
  root?: string;
  /** Put before every non-empty path (e.g. `"purge event "`). */
  pathPrefix?: string;
  /** Only the first issue (when the rest would only repeat it). */
  firstOnly?: boolean;
}

/** `<path>: <message>; <path>: <message>`. */
export function formatIssues(error: z.ZodError, format: IssueFormat = {}): string {
  const issues = format.firstOnly ? error.issues.slice(0, 1) : error.issues;
  return issues
    .map((issue) => {
      const label =
        issue.path.length > 0 ? `${format.pathPrefix ?? ""}${issue.path.map(String).join(".")}` : format.root;
      return label === undefined ? issue.message : `${label}: ${issue.message}`;
    })
    .join("; ");
}
