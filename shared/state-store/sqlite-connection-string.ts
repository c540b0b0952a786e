/**
 * The connection strings Dapr's `state.sqlite` component takes (components-contrib
 * common/authentication/sqlite/metadata.go, GetConnectionString): a file path (`data.db`, `/var/lib/dapr/state.db`)
 * or an SQLite URI (`file:data.db?mode=ro`, `file:///abs/state.db`), which Dapr hands to the modernc driver after
 * prefixing `file:` when missing. `:memory:` / `file::memory:` databases live inside the Dapr process and cannot be
 * reached from outside it, so they are refused.
 */
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

export const sqliteTarget = z.object({
  kind: z.literal("sqlite"),
  /** Absolute path of the database file. */
  path: z.string().min(1),
  /** `mode=ro` or `immutable=1`: open read-only (destructive commands then fail on the first write). */
  readOnly: z.boolean(),
  /** Dapr's `tableName` (default `state`); letters, digits and `_` only, as Dapr validates it. */
  tableName: z.string().regex(/^[A-Za-z0-9_]+$/, "use letters, digits and _ only (Dapr's rule for SQLite)"),
});

export type SqliteTarget = z.infer<typeof sqliteTarget>;

export const SQLITE_ACCEPTED =
  "SQLite: a database file path (./state.db, /var/lib/dapr/state.db) or file:PATH[?mode=ro] (file:///ABS/PATH too)";

/**
 * A path, or a `file:` URI: what no other store's form looks like. `/` and `/name` stay MySQL DSNs (go-sql-driver's
 * default address); a MySQL database name cannot contain `.` or `/`, so `/x.db` and `/dir/file` are paths.
 */
export function looksLikeSqlite(s: string): boolean {
  if (/^file:/i.test(s) || /^:memory:/i.test(s)) return true;
  const path = s.split("?")[0] ?? "";
  if (/[=@;\s]/.test(path)) return false;
  if (/^(\.{1,2}\/|~\/)/.test(path) || /^\/[^/]*\//.test(path)) return true;
  return /\.(db|db3|sqlite|sqlite3)$/i.test(path);
}

/** Parses a SQLite connection string; `problem` is called (and must throw) with what is wrong. */
export function parseSqliteConnectionString(
  s: string,
  tableName: string | undefined,
  problem: (message: string) => never,
): SqliteTarget {
  if (/^(file:)?:memory:/i.test(s)) {
    problem("an in-memory SQLite database (:memory:) lives inside the Dapr process and cannot be read from outside it");
  }
  const question = s.indexOf("?");
  const location = question < 0 ? s : s.slice(0, question);
  const query = new URLSearchParams(question < 0 ? "" : s.slice(question + 1));
  let path: string;
  if (/^file:/i.test(location)) {
    const rest = location.slice(5);
    if (rest.startsWith("//")) {
      // file://[localhost]/abs/path: SQLite accepts no other authority (sqlite3ParseUri).
      const authority = rest.slice(2).split("/")[0] ?? "";
      if (authority !== "" && authority.toLowerCase() !== "localhost") {
        problem(`a file: URI names host "${authority}"; only a local file (file:///path) can be opened`);
      }
      path = fileURLToPath(`file:///${rest.slice(2 + authority.length).replace(/^\/+/, "")}`);
    } else {
      try {
        path = decodeURIComponent(rest);
      } catch {
        problem("the file: URI contains an invalid %-escape");
      }
    }
  } else {
    path = location;
  }
  if (path.startsWith("~/")) path = `${process.env.HOME ?? "~"}${path.slice(1)}`;
  if (path === "") problem("the SQLite connection string names no file");
  const mode = query.get("mode");
  if (mode === "memory") problem("mode=memory is an in-memory database inside the Dapr process; name its file instead");
  return {
    kind: "sqlite",
    path: isAbsolute(path) ? path : resolve(path),
    readOnly: mode === "ro" || query.get("immutable") === "1",
    tableName: tableName?.trim() || "state",
  };
}
