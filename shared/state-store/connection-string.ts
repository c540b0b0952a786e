/**
 * Turns the connection strings users copy from their Dapr components (or from `dapr workflow list
 * --connection-string`) into driver configuration for the matching Node driver. The store is chosen from the FORM
 * of the string, because the Dapr CLI passes it unchanged to a Go driver that only accepts its own form:
 *
 *   PostgreSQL (pgx)        host=localhost user=postgres password=example port=5432 connect_timeout=10 database=dapr
 *                           postgres://user:pass@host:5432/db?sslmode=require   (also postgresql://)
 *   MySQL (go-sql-driver)   user:pass@tcp(host:3306)/?allowNativePasswords=true&tls=custom   (and mysql:// URLs)
 *   SQL Server (go-mssqldb) Server=host\instance;Database=db;User Id=u;Password=p;   or sqlserver://u:p@host:1433?database=db
 *   MongoDB                 mongodb://host:27017   mongodb+srv://cluster.example.com   (the path is only the auth
 *                           database; the data is in the component's databaseName, as in Dapr)
 *   Redis                   redis://[user:pass@]host:6379/0   rediss://…
 *   SQLite                  ./state.db   /var/lib/dapr/state.db   file:state.db?mode=ro   (sqlite-connection-string.ts)
 *
 * Defaults are Dapr's: MySQL database `dapr_state_store`, SQL Server database `dapr` / schema `dbo`, MongoDB database
 * `daprStore` / collection `daprCollection`, table `state`. Error messages never contain the password.
 *
 * This module picks the form and owns the error; each store's rules are in `<store>-connection-string.ts`, what they
 * share in connection-string-parts.ts.
 */
import { z } from "zod";
import { HousekeeperError } from "../errors.ts";
import {
  CONTROL,
  type Form,
  fail,
  type ParseConnectionStringOptions,
  ParseProblem,
} from "./connection-string-parts.ts";
import { mongoTarget, parseMongo } from "./mongodb-connection-string.ts";
import { MYSQL_DSN, mysqlTarget, parseMysqlDsn, parseMysqlUrl } from "./mysql-connection-string.ts";
import { parsePostgresKeyValue, parsePostgresUrl, postgresTarget } from "./postgres-connection-string.ts";
import { parseRedis, redisTarget } from "./redis-connection-string.ts";
import {
  looksLikeSqlite,
  parseSqliteConnectionString,
  SQLITE_ACCEPTED,
  sqliteTarget,
} from "./sqlite-connection-string.ts";
import { isAdoForm, parseSqlServerAdo, parseSqlServerUrl, sqlServerTarget } from "./sqlserver-connection-string.ts";

export { DAPR_DEFAULTS, type ParseConnectionStringOptions } from "./connection-string-parts.ts";
export type { MongoTarget } from "./mongodb-connection-string.ts";
export type { MysqlTarget } from "./mysql-connection-string.ts";
export { type PostgresTarget, parseLibpqKeyValue } from "./postgres-connection-string.ts";
export type { RedisTarget } from "./redis-connection-string.ts";
export type { SqlServerTarget } from "./sqlserver-connection-string.ts";

export const connectionTargetSchema = z.discriminatedUnion("kind", [
  postgresTarget,
  mysqlTarget,
  sqlServerTarget,
  mongoTarget,
  redisTarget,
  sqliteTarget,
]);

export type ConnectionTarget = z.infer<typeof connectionTargetSchema>;

export type { SqliteTarget } from "./sqlite-connection-string.ts";

const ACCEPTED: Record<Form, string> = {
  postgresql:
    "PostgreSQL: 'host=HOST port=5432 user=USER password=PASS database=DB [sslmode=…] [connect_timeout=S]' or postgres://USER:PASS@HOST:5432/DB?sslmode=…",
  mysql:
    "MySQL: USER:PASS@tcp(HOST:3306)/[DB][?tls=…], USER:PASS@unix(/path/mysqld.sock)/[DB], or mysql://USER:PASS@HOST:3306/DB",
  sqlserver:
    "SQL Server: 'Server=HOST[,PORT|\\INSTANCE];Database=DB;User Id=USER;Password=PASS;' or sqlserver://USER:PASS@HOST:1433?database=DB",
  mongodb:
    "MongoDB: mongodb://[USER:PASS@]HOST[:PORT][,HOST…]/[AUTHDB][?options] or mongodb+srv://[USER:PASS@]CLUSTER/[AUTHDB] (the database is --database-name, default daprStore)",
  redis: "Redis: redis://[USER:PASS@]HOST[:PORT][/DB] or rediss://…",
  sqlite: SQLITE_ACCEPTED,
};

const ALL_FORMS = Object.values(ACCEPTED).join("; ");

/** Password-like fragments of the raw input, so they can be scrubbed from any message as a last line of defence. */
function secretCandidates(input: string, known: readonly string[]): string[] {
  const found = new Set<string>(known.filter((s) => s.length >= 3));
  for (const m of input.matchAll(/(?:password|pwd)\s*=\s*('(?:[^'\\]|\\.)*'?|"(?:[^"]|"")*"?|[^\s;&]*)/gi)) {
    if (m[1] && m[1].length >= 3) found.add(m[1]);
  }
  for (const m of input.matchAll(/^(?:[a-z][a-z0-9+.-]*:\/\/)?[^:@/\s]*:(.*)@/gi)) {
    if (m[1] && m[1].length >= 3) found.add(m[1]);
  }
  return [...found].sort((a, b) => b.length - a.length);
}

export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join("****");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Entry point

/**
 * Parses a Dapr state-store connection string into a validated target. Throws
 * `HousekeeperError("bad-connection-string")` naming the problem and the accepted forms, never echoing the password.
 */
export function parseConnectionString(input: string, options: ParseConnectionStringOptions = {}): ConnectionTarget {
  const passwords: string[] = [];
  try {
    const target = parseByForm(input.trim(), options, passwords);
    const checked = connectionTargetSchema.safeParse(target);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      fail(target.kind, `invalid ${issue?.path.join(".") ?? "value"}: ${issue?.message ?? "validation failed"}`);
    }
    refuseControlCharacters(checked.data);
    return checked.data;
  } catch (error) {
    if (!(error instanceof ParseProblem)) throw error;
    const accepted = error.form ? ACCEPTED[error.form] : `Accepted forms: ${ALL_FORMS}`;
    const message = `bad connection string: ${error.message}. ${accepted}`;
    throw new HousekeeperError("bad-connection-string", maskSecrets(message, secretCandidates(input, passwords)));
  }
}

function parseByForm(s: string, options: ParseConnectionStringOptions, passwords: string[]): ConnectionTarget {
  if (s === "") fail(undefined, "the connection string is empty");
  const target = parseForm(s, options, passwords);
  if (options.databaseName !== undefined && target.kind !== "mongodb") {
    fail(target.kind, "a database name option is for MongoDB only; give the database in the connection string");
  }
  return target;
}

function parseForm(s: string, options: ParseConnectionStringOptions, passwords: string[]): ConnectionTarget {
  if (looksLikeSqlite(s)) return parseSqliteConnectionString(s, options.tableName, (m) => fail("sqlite", m));
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(s)?.[1]?.toLowerCase();
  switch (scheme) {
    case "postgres":
    case "postgresql":
      return parsePostgresUrl(s, options, passwords);
    case "mysql":
      return parseMysqlUrl(s, options, passwords);
    case "sqlserver":
      return parseSqlServerUrl(s, options, passwords);
    case "mongodb":
    case "mongodb+srv":
      return parseMongo(s, scheme, options, passwords);
    case "redis":
    case "rediss":
      return parseRedis(s, scheme, passwords);
  }
  // An unknown `scheme://` is reported as such, unless it is a MySQL DSN whose password starts with "//".
  if (scheme && !/@(?:tcp[46]?|unix)\(/.test(s)) fail(undefined, `unknown scheme "${scheme}://"`);
  if (isAdoForm(s)) return parseSqlServerAdo(s, options, passwords);
  if (/^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(s)) return parsePostgresKeyValue(s, options, passwords);
  if (MYSQL_DSN.test(s)) return parseMysqlDsn(s, options, passwords);
  fail(undefined, "the string has none of the accepted forms");
}

/**
 * A control character in a host, user, password, database or table name is a paste or templating accident (or an
 * attempt to smuggle one into a log line); drivers would pass it on or silently cut the value. Names the part only,
 * never its value. TLS material (PEM text, which has line breaks) is not checked.
 */
function refuseControlCharacters(target: ConnectionTarget): void {
  const visit = (value: unknown, path: string[]): void => {
    if (typeof value === "string") {
      const found = CONTROL.exec(value);
      if (found) {
        const code = found[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
        fail(target.kind, `the ${path.at(-1)} part contains a control character (U+${code})`);
      }
    } else if (value !== null && typeof value === "object") {
      for (const [key, inner] of Object.entries(value)) {
        if (key !== "ssl") visit(inner, [...path, key]);
      }
    }
  };
  visit(target, []);
}

// ---------------------------------------------------------------------------------------------------------------
// Description

/** One line naming the store and where the data lives, never containing a password. */
export function describeTarget(target: ConnectionTarget): string {
  switch (target.kind) {
    case "postgresql": {
      const c = target.config;
      const who = c.user ? `${c.user}@` : "";
      return `postgresql ${who}${hostPort(c.host, c.port)}/${c.database ?? ""} table ${target.tableName} (sslmode ${target.sslMode})`;
    }
    case "mysql": {
      const c = target.connection;
      const who = c.user ? `${c.user}@` : "";
      const where = c.socketPath ? `unix(${c.socketPath})` : hostPort(c.host ?? "127.0.0.1", c.port ?? 3306);
      const tls = c.ssl ? (c.ssl.rejectUnauthorized ? "tls" : "tls, unverified") : "no tls";
      return `mysql ${who}${where}/${target.database} table ${target.tableName} (${tls})`;
    }
    case "sqlserver": {
      const c = target.config;
      const who = c.user ? `${c.user}@` : "";
      const instance = c.options.instanceName ? `\\${c.options.instanceName}` : "";
      const where = `${c.server}${instance}${c.port ? `:${c.port}` : ""}`;
      return `sqlserver ${who}${where}/${target.database} table [${target.schema}].[${target.tableName}]`;
    }
    case "mongodb":
      return `mongodb ${target.srv ? "srv " : ""}${target.hosts.join(",")}/${target.database} collection ${target.collection}`;
    case "redis":
      return `redis${target.tls ? " (tls)" : ""} ${hostPort(target.host, target.port)}/${target.db}`;
    case "sqlite":
      return `sqlite ${target.path} table ${target.tableName}${target.readOnly ? " (read-only)" : ""}`;
  }
}

function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
