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
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { HousekeeperError } from "../errors.ts";
import {
  looksLikeSqlite,
  parseSqliteConnectionString,
  SQLITE_ACCEPTED,
  sqliteTarget,
} from "./sqlite-connection-string.ts";

// ---------------------------------------------------------------------------------------------------------------
// Target shapes (zod-validated)

const port = z.number().int().min(1).max(65535);
const nonEmpty = z.string().min(1);

const pgSsl = z.union([
  z.literal(false),
  z.object({
    rejectUnauthorized: z.boolean(),
    /** Present for verify-ca: chain is checked, host name is not. */
    checkServerIdentity: z.custom<() => undefined>((v) => typeof v === "function").optional(),
    ca: z.string().optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
  }),
]);

const postgresTarget = z.object({
  kind: z.literal("postgresql"),
  /** Assignable to `pg.ClientConfig`. */
  config: z.object({
    host: nonEmpty,
    port,
    user: z.string().optional(),
    password: z.string().optional(),
    database: z.string().optional(),
    ssl: pgSsl,
    connectionTimeoutMillis: z.number().int().min(0).optional(),
    application_name: z.string().optional(),
  }),
  sslMode: z.enum(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
  /** Dapr's `tableName` (default `state`); may be `schema.table`. */
  tableName: nonEmpty,
});

const mysqlTarget = z.object({
  kind: z.literal("mysql"),
  /** Assignable to mysql2 `PoolOptions`. */
  connection: z.object({
    host: z.string().optional(),
    port: port.optional(),
    socketPath: z.string().optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    database: nonEmpty,
    ssl: z.object({ rejectUnauthorized: z.boolean() }).optional(),
  }),
  database: nonEmpty,
  tableName: nonEmpty,
});

const sqlServerTarget = z.object({
  kind: z.literal("sqlserver"),
  /** Assignable to mssql `config`. */
  config: z.object({
    server: nonEmpty,
    port: port.optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    database: nonEmpty,
    connectionTimeout: z.number().int().min(0).optional(),
    options: z.object({
      encrypt: z.union([z.boolean(), z.literal("strict")]),
      trustServerCertificate: z.boolean(),
      instanceName: z.string().optional(),
      appName: z.string().optional(),
    }),
  }),
  database: nonEmpty,
  schema: nonEmpty,
  tableName: nonEmpty,
});

const mongoTarget = z.object({
  kind: z.literal("mongodb"),
  /** The string as given; the driver parses it. */
  url: nonEmpty,
  srv: z.boolean(),
  hosts: z.array(nonEmpty).min(1),
  database: nonEmpty,
  collection: nonEmpty,
});

const redisTarget = z.object({
  kind: z.literal("redis"),
  url: nonEmpty,
  host: nonEmpty,
  port,
  db: z.number().int().min(0),
  tls: z.boolean(),
});

export const connectionTargetSchema = z.discriminatedUnion("kind", [
  postgresTarget,
  mysqlTarget,
  sqlServerTarget,
  mongoTarget,
  redisTarget,
  sqliteTarget,
]);

export type ConnectionTarget = z.infer<typeof connectionTargetSchema>;
export type PostgresTarget = z.infer<typeof postgresTarget>;
export type MysqlTarget = z.infer<typeof mysqlTarget>;
export type SqlServerTarget = z.infer<typeof sqlServerTarget>;
export type MongoTarget = z.infer<typeof mongoTarget>;
export type RedisTarget = z.infer<typeof redisTarget>;
export type { SqliteTarget } from "./sqlite-connection-string.ts";

export interface ParseConnectionStringOptions {
  /** The component's `tableName` (MongoDB: `collectionName`). `schema.table` is accepted for SQL stores. */
  tableName?: string | undefined;
  /** MongoDB only: the component's `databaseName` (default `daprStore`). */
  databaseName?: string | undefined;
}

export const DAPR_DEFAULTS = {
  tableName: "state",
  mysqlDatabase: "dapr_state_store",
  sqlServerDatabase: "dapr",
  sqlServerSchema: "dbo",
  mongoDatabase: "daprStore",
  mongoCollection: "daprCollection",
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Errors

type Form = "postgresql" | "mysql" | "sqlserver" | "mongodb" | "redis" | "sqlite";

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

class ParseProblem extends Error {
  constructor(
    readonly form: Form | undefined,
    message: string,
  ) {
    super(message);
  }
}

function fail(form: Form | undefined, message: string): never {
  throw new ParseProblem(form, message);
}

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

// ---------------------------------------------------------------------------------------------------------------
// Shared helpers

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

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

function parsePort(form: Form, text: string, what = "port"): number {
  if (!/^\d{1,5}$/.test(text)) fail(form, `${what} "${text}" is not a number between 1 and 65535`);
  const n = Number(text);
  if (n < 1 || n > 65535) fail(form, `${what} ${n} is out of range (1-65535)`);
  return n;
}

function decode(form: Form, text: string, what: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    fail(form, `${what} contains an invalid %-escape`);
  }
  if (CONTROL.test(decoded)) fail(form, `${what} contains a control character`);
  return decoded;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` → parts; port text is returned unparsed. */
function splitHostPort(form: Form, text: string): { host: string; port: string | undefined } {
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0) fail(form, "an IPv6 address is missing its closing ']'");
    const rest = text.slice(end + 1);
    if (rest !== "" && !rest.startsWith(":")) fail(form, "unexpected text after an IPv6 address");
    return { host: text.slice(1, end), port: rest === "" ? undefined : rest.slice(1) };
  }
  const colon = text.lastIndexOf(":");
  if (colon < 0) return { host: text, port: undefined };
  if (text.indexOf(":") !== colon) fail(form, "an IPv6 host must be written in brackets, e.g. [::1]:5432");
  return { host: text.slice(0, colon), port: text.slice(colon + 1) };
}

function splitTableOption(tableName: string | undefined): { schema: string | undefined; table: string } {
  const name = tableName?.trim() || DAPR_DEFAULTS.tableName;
  const dot = name.indexOf(".");
  if (dot < 0) return { schema: undefined, table: name };
  return { schema: name.slice(0, dot), table: name.slice(dot + 1) };
}

interface UrlParts {
  user: string | undefined;
  password: string | undefined;
  /** Decoded host without IPv6 brackets; "" when absent. */
  host: string;
  /** Port text as written, undefined when absent. */
  port: string | undefined;
  /** Decoded path without the leading '/'. */
  path: string;
  query: URLSearchParams;
}

/**
 * Splits `scheme://[user[:password]@]host[:port][/path][?query]` the way libpq and Go's net/url do: the authority
 * ends at the first '/' or '?', and the credentials end at its last '@'. Hand-written (not WHATWG URL) so each
 * problem gets its own message.
 */
function splitUrl(form: Form, s: string, passwords: string[]): UrlParts {
  const rest = s.slice(s.indexOf("://") + 3);
  const end = rest.search(/[/?]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const tail = end < 0 ? "" : rest.slice(end);
  const at = authority.lastIndexOf("@");
  let user: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const creds = authority.slice(0, at);
    const colon = creds.indexOf(":");
    if (colon >= 0) {
      passwords.push(creds.slice(colon + 1));
      password = decode(form, creds.slice(colon + 1), "the password");
      passwords.push(password);
    }
    const userText = colon < 0 ? creds : creds.slice(0, colon);
    if (userText !== "") user = decode(form, userText, "the user name");
  }
  const hostPortText = authority.slice(at + 1);
  if (hostPortText.includes(",")) fail(form, "several hosts are not supported; give one host");
  const { host, port } = splitHostPort(form, hostPortText);
  const q = tail.indexOf("?");
  const pathText = (q < 0 ? tail : tail.slice(0, q)).replace(/^\//, "");
  return {
    user,
    password,
    host: decode(form, host, "the host"),
    port: port === "" ? undefined : port,
    path: decode(form, pathText, "the path"),
    query: new URLSearchParams(q < 0 ? "" : tail.slice(q + 1)),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL

type SslMode = PostgresTarget["sslMode"];
const SSL_MODES: readonly SslMode[] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

/** libpq conninfo_parse: `key = value` pairs separated by whitespace; values may be '…' quoted; `\` escapes. */
export function parseLibpqKeyValue(s: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c);
  while (i < s.length) {
    while (isSpace(s[i])) i++;
    if (i >= s.length) break;
    const keyStart = i;
    while (i < s.length && s[i] !== "=" && !isSpace(s[i])) i++;
    const key = s.slice(keyStart, i);
    while (isSpace(s[i])) i++;
    if (s[i] !== "=") fail("postgresql", `missing "=" after "${key}"`);
    i++;
    while (isSpace(s[i])) i++;
    let value = "";
    if (s[i] === "'") {
      i++;
      let closed = false;
      while (i < s.length) {
        const c = s[i]!;
        if (c === "\\") {
          i++;
          if (i < s.length) value += s[i++];
          continue;
        }
        if (c === "'") {
          closed = true;
          i++;
          break;
        }
        value += c;
        i++;
      }
      if (!closed) fail("postgresql", `unterminated quoted value for "${key}"`);
    } else {
      while (i < s.length && !isSpace(s[i])) {
        const c = s[i]!;
        if (c === "\\") {
          i++;
          if (i < s.length) value += s[i++];
          continue;
        }
        value += c;
        i++;
      }
    }
    if (key === "") fail("postgresql", "a value has no key before '='");
    out.set(key, value);
  }
  return out;
}

function parsePostgresKeyValue(s: string, options: ParseConnectionStringOptions, passwords: string[]): PostgresTarget {
  const params = parseLibpqKeyValue(s);
  const pw = params.get("password");
  if (pw !== undefined) passwords.push(pw);
  return buildPostgres(params, options);
}

function parsePostgresUrl(s: string, options: ParseConnectionStringOptions, passwords: string[]): PostgresTarget {
  const url = splitUrl("postgresql", s, passwords);
  const params = new Map<string, string>();
  if (url.user !== undefined) params.set("user", url.user);
  if (url.password !== undefined) params.set("password", url.password);
  if (url.host !== "") params.set("host", url.host);
  if (url.port !== undefined) params.set("port", url.port);
  if (url.path !== "") params.set("dbname", url.path);
  for (const [k, v] of url.query) {
    if (k === "password") passwords.push(v);
    params.set(k, v);
  }
  return buildPostgres(params, options);
}

function buildPostgres(params: Map<string, string>, options: ParseConnectionStringOptions): PostgresTarget {
  const host = params.get("hostaddr") || params.get("host") || "localhost";
  if (host.includes(",")) fail("postgresql", "several hosts are not supported; give one host");
  const portText = params.get("port");
  if (portText?.includes(",")) fail("postgresql", "several ports are not supported; give one port");
  const sslModeText = (params.get("sslmode") ?? "prefer").toLowerCase();
  if (!SSL_MODES.includes(sslModeText as SslMode)) {
    fail("postgresql", `sslmode "${sslModeText}" is not one of ${SSL_MODES.join(", ")}`);
  }
  let sslMode = sslModeText as SslMode;
  const tls: { ca?: string; cert?: string; key?: string } = {};
  for (const [param, field] of [
    ["sslrootcert", "ca"],
    ["sslcert", "cert"],
    ["sslkey", "key"],
  ] as const) {
    const path = params.get(param);
    if (!path) continue;
    try {
      tls[field] = readFileSync(path, "utf8");
    } catch {
      fail("postgresql", `${param} file "${path}" cannot be read`);
    }
  }
  // libpq: with a root certificate present, sslmode=require verifies the chain like verify-ca.
  if (sslMode === "require" && tls.ca !== undefined) sslMode = "verify-ca";
  const config: PostgresTarget["config"] = {
    host,
    port: portText === undefined || portText === "" ? 5432 : parsePort("postgresql", portText),
    // node-pg cannot fall back from TLS to plain text like libpq's allow/prefer, so those connect without TLS.
    ssl:
      sslMode === "disable" || sslMode === "allow" || sslMode === "prefer"
        ? false
        : sslMode === "require"
          ? { rejectUnauthorized: false, ...tls }
          : sslMode === "verify-ca"
            ? { rejectUnauthorized: true, checkServerIdentity: () => undefined, ...tls }
            : { rejectUnauthorized: true, ...tls },
  };
  const user = params.get("user");
  if (user) config.user = user;
  const password = params.get("password");
  if (password !== undefined) config.password = password;
  const database = params.get("dbname") ?? params.get("database");
  if (database) config.database = database;
  const timeout = params.get("connect_timeout");
  if (timeout !== undefined && timeout !== "") {
    if (!/^\d+$/.test(timeout)) fail("postgresql", `connect_timeout "${timeout}" is not a whole number of seconds`);
    const seconds = Number(timeout);
    // libpq: 0 means wait forever; values below 2 are treated as 2.
    if (seconds > 0) config.connectionTimeoutMillis = Math.max(seconds, 2) * 1000;
  }
  const app = params.get("application_name");
  if (app) config.application_name = app;
  return { kind: "postgresql", config, sslMode, tableName: options.tableName?.trim() || DAPR_DEFAULTS.tableName };
}

// ---------------------------------------------------------------------------------------------------------------
// MySQL

/** `[user[:password]@][net[(addr)]]/dbname[?params]`, as go-sql-driver/mysql ParseDSN reads it. */
const MYSQL_DSN = /^(?:.*@)?[A-Za-z0-9]*(?:\(.*)?\/[^/]*$/s;

function parseMysqlDsn(s: string, options: ParseConnectionStringOptions, passwords: string[]): MysqlTarget {
  // Mirrors ParseDSN: the LAST '/' separates the address part from dbname?params (the password may contain '/').
  const slash = s.lastIndexOf("/");
  if (slash < 0) fail("mysql", "a DSN needs a '/' before the (possibly empty) database name");
  const left = s.slice(0, slash);
  const right = s.slice(slash + 1);
  let user: string | undefined;
  let password: string | undefined;
  let netAddr = left;
  const at = left.lastIndexOf("@");
  if (at >= 0) {
    const creds = left.slice(0, at);
    netAddr = left.slice(at + 1);
    const colon = creds.indexOf(":");
    if (colon >= 0) {
      user = creds.slice(0, colon);
      password = creds.slice(colon + 1);
      passwords.push(password);
    } else {
      user = creds;
    }
  }
  let net = netAddr;
  let addr = "";
  const paren = netAddr.indexOf("(");
  if (paren >= 0) {
    if (!netAddr.endsWith(")")) fail("mysql", "the address in net(addr) is missing its closing ')'");
    net = netAddr.slice(0, paren);
    addr = netAddr.slice(paren + 1, -1);
  }
  if (net === "") net = "tcp";
  const q = right.indexOf("?");
  const dbText = q < 0 ? right : right.slice(0, q);
  const params = new URLSearchParams(q < 0 ? "" : right.slice(q + 1));
  const database = decode("mysql", dbText, "the database name");

  const connection: MysqlTarget["connection"] = { database: "" };
  if (net === "unix") {
    connection.socketPath = addr || "/tmp/mysql.sock";
  } else if (net === "tcp" || net === "tcp4" || net === "tcp6") {
    const { host, port } = splitHostPort("mysql", addr || "127.0.0.1:3306");
    if (host === "") fail("mysql", "the host in tcp(host:port) is empty");
    connection.host = host;
    connection.port = port === undefined || port === "" ? 3306 : parsePort("mysql", port);
  } else {
    fail("mysql", `network "${net}" is not supported (use tcp or unix)`);
  }
  if (user) connection.user = user;
  if (password !== undefined) connection.password = password;
  return finishMysql(connection, database, params.get("tls"), options);
}

function parseMysqlUrl(s: string, options: ParseConnectionStringOptions, passwords: string[]): MysqlTarget {
  const url = splitUrl("mysql", s, passwords);
  const connection: MysqlTarget["connection"] = { database: "" };
  const socket = url.query.get("socket") ?? url.query.get("socketPath");
  if (socket) {
    connection.socketPath = socket;
  } else {
    if (url.host === "") fail("mysql", "the host is missing");
    connection.host = url.host;
    connection.port = url.port === undefined ? 3306 : parsePort("mysql", url.port);
  }
  if (url.user) connection.user = url.user;
  if (url.password !== undefined) connection.password = url.password;
  return finishMysql(connection, url.path, url.query.get("tls") ?? url.query.get("ssl"), options);
}

function finishMysql(
  connection: MysqlTarget["connection"],
  databaseFromString: string,
  tlsParam: string | null,
  options: ParseConnectionStringOptions,
): MysqlTarget {
  const { schema, table } = splitTableOption(options.tableName);
  // Dapr's component form has no database: it uses schemaName (default dapr_state_store).
  const database = schema ?? (databaseFromString || DAPR_DEFAULTS.mysqlDatabase);
  connection.database = database;
  if (tlsParam !== null) {
    const tls = tlsParam.toLowerCase();
    if (["true", "1"].includes(tls)) connection.ssl = { rejectUnauthorized: true };
    else if (tls === "skip-verify") connection.ssl = { rejectUnauthorized: false };
    else if (["false", "0", "preferred"].includes(tls)) {
      // preferred = TLS only if the server offers it; mysql2 cannot fall back, so connect without TLS.
    } else {
      // A named config (Dapr registers "custom" from pemPath): verify against the CAs Node trusts
      // (add a private CA with NODE_EXTRA_CA_CERTS).
      connection.ssl = { rejectUnauthorized: true };
    }
  }
  return { kind: "mysql", connection, database, tableName: table };
}

// ---------------------------------------------------------------------------------------------------------------
// SQL Server

const ADO_SERVER_KEYS = ["server", "data source", "address", "addr", "network address"];
const ADO_ONLY_KEYS = [
  "user id",
  "uid",
  "initial catalog",
  "pwd",
  "trustservercertificate",
  "encrypt",
  "integrated security",
];

function isAdoForm(s: string): boolean {
  const keys = splitAdoParts(s).map((p) => p.split("=", 1)[0]!.trim().toLowerCase());
  if (keys.some((k) => ADO_SERVER_KEYS.includes(k))) return true;
  return s.includes(";") && keys.some((k) => ADO_ONLY_KEYS.includes(k));
}

/** go-mssqldb splitAdoConnectionStringParts: `;` separates, except inside "…" (where "" is a quote). */
function splitAdoParts(s: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') {
      if (quoted && s[i + 1] === '"') {
        current += '""';
        i++;
      } else {
        quoted = !quoted;
        current += c;
      }
    } else if (c === ";" && !quoted) {
      parts.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  if (quoted) fail("sqlserver", 'a "quoted" value is not terminated');
  if (current.length > 0) parts.push(current);
  return parts;
}

const ADO_SYNONYMS: Record<string, string> = {
  app: "app name",
  "application name": "app name",
  "data source": "server",
  address: "server",
  "network address": "server",
  addr: "server",
  user: "user id",
  uid: "user id",
  pwd: "password",
  "initial catalog": "database",
  "connect timeout": "connection timeout",
  timeout: "connection timeout",
  "trust server certificate": "trustservercertificate",
};

function parseSqlServerAdo(s: string, options: ParseConnectionStringOptions, passwords: string[]): SqlServerTarget {
  const params = new Map<string, string>();
  for (const part of splitAdoParts(s)) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    const rawName = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (rawName === "") continue;
    let value = eq < 0 ? "" : part.slice(eq + 1).trim();
    const name = ADO_SYNONYMS[rawName] ?? rawName;
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replaceAll('""', '"');
    } else if (value.startsWith("'")) {
      // ADO.NET also quotes with '…' ('' inside is a quote); an opening quote without its closing one is a mistake.
      if (value.length < 2 || !value.endsWith("'")) fail("sqlserver", `the ${name} value's '-quote is not terminated`);
      value = value.slice(1, -1).replaceAll("''", "'");
    }
    if (name === "password") passwords.push(value);
    if (name === "server") {
      value = value.replace(/^(tcp|admin):/i, "");
      const comma = value.split(",");
      if (comma.length === 2 && comma[1]!.length > 0) {
        value = comma[0]!;
        params.set("port", comma[1]!.trim());
      }
    }
    params.set(name, value);
  }
  if (!params.has("server")) fail("sqlserver", "the Server (or Data Source) key is missing");
  // go-mssqldb reads an empty Server as localhost; an empty value is far more often a template left unfilled.
  if (params.get("server")!.trim() === "") fail("sqlserver", "the Server value is empty (write localhost or .)");
  return buildSqlServer(params, options);
}

function parseSqlServerUrl(s: string, options: ParseConnectionStringOptions, passwords: string[]): SqlServerTarget {
  const url = splitUrl("sqlserver", s, passwords);
  const params = new Map<string, string>();
  if (url.user !== undefined) params.set("user id", url.user);
  if (url.password !== undefined) params.set("password", url.password);
  if (url.host === "") fail("sqlserver", "the host is missing");
  // go-mssqldb: the URL path names the instance.
  params.set("server", url.path ? `${url.host}\\${url.path}` : url.host);
  if (url.port !== undefined) params.set("port", url.port);
  for (const [k, v] of url.query) {
    const key = k.toLowerCase();
    if (key === "password") passwords.push(v);
    params.set(ADO_SYNONYMS[key] ?? key, v);
  }
  return buildSqlServer(params, options);
}

function buildSqlServer(params: Map<string, string>, options: ParseConnectionStringOptions): SqlServerTarget {
  const server = params.get("server") ?? "";
  const backslash = server.indexOf("\\");
  let host = backslash < 0 ? server : server.slice(0, backslash);
  const instance = backslash < 0 ? undefined : server.slice(backslash + 1);
  // go-mssqldb: ".", "(local)" and "" all mean localhost.
  if (host === "" || host === "." || host.toLowerCase() === "(local)") host = "localhost";

  // go-mssqldb parseTLS: without `encrypt`, the login is encrypted (the whole session when the server demands it, as
  // Azure SQL does) and the certificate is trusted. tedious has no login-only mode, so encrypt the session, trusting
  // the certificate the same way.
  let encrypt: boolean | "strict" = true;
  let trust = true;
  const encryptText = params.get("encrypt")?.toLowerCase();
  if (encryptText !== undefined) {
    trust = false;
    if (["mandatory", "yes", "1", "t", "true"].includes(encryptText)) encrypt = true;
    else if (encryptText === "strict") encrypt = "strict";
    else if (["disable", "optional", "no", "0", "f", "false"].includes(encryptText)) encrypt = false;
    else fail("sqlserver", `encrypt "${encryptText}" is not one of true, false, strict, disable`);
  }
  const trustText = params.get("trustservercertificate");
  if (trustText !== undefined) {
    const b = parseGoBool(trustText);
    if (b === undefined) fail("sqlserver", `TrustServerCertificate "${trustText}" is not true or false`);
    trust = b;
  }
  if (encrypt === "strict") trust = false;

  const { schema, table } = splitTableOption(options.tableName);
  // Dapr's component creates and uses database "dapr" when the string names none.
  const database = params.get("database") || DAPR_DEFAULTS.sqlServerDatabase;
  const config: SqlServerTarget["config"] = {
    server: host,
    database,
    options: { encrypt, trustServerCertificate: trust },
  };
  if (instance) config.options.instanceName = instance;
  const portText = params.get("port");
  if (portText !== undefined && portText !== "") config.port = parsePort("sqlserver", portText);
  const user = params.get("user id");
  if (user) config.user = user;
  const password = params.get("password");
  if (password !== undefined) config.password = password;
  const timeout = params.get("connection timeout");
  if (timeout !== undefined && timeout !== "") {
    if (!/^\d+$/.test(timeout)) fail("sqlserver", `connection timeout "${timeout}" is not a whole number of seconds`);
    if (Number(timeout) > 0) config.connectionTimeout = Number(timeout) * 1000;
  }
  const app = params.get("app name");
  if (app) config.options.appName = app;
  return {
    kind: "sqlserver",
    config,
    database,
    schema: schema ?? DAPR_DEFAULTS.sqlServerSchema,
    tableName: table,
  };
}

/** Go strconv.ParseBool. */
function parseGoBool(text: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// MongoDB

function parseMongo(
  s: string,
  scheme: "mongodb" | "mongodb+srv",
  options: ParseConnectionStringOptions,
  passwords: string[],
): MongoTarget {
  const rest = s.slice(scheme.length + 3);
  // Per the connection-string spec, '/', '?', '@' and ':' in credentials must be %-escaped.
  const slash = rest.indexOf("/");
  const question = rest.indexOf("?");
  const authorityEnd = slash >= 0 ? slash : question >= 0 ? question : rest.length;
  const authority = rest.slice(0, authorityEnd);
  const at = authority.lastIndexOf("@");
  const hostList = at >= 0 ? authority.slice(at + 1) : authority;
  if (at >= 0) {
    const creds = authority.slice(0, at);
    const colon = creds.indexOf(":");
    if (colon >= 0) {
      passwords.push(creds.slice(colon + 1));
      passwords.push(decode("mongodb", creds.slice(colon + 1), "the password"));
    }
    if ((colon < 0 ? creds : creds.slice(0, colon)) === "") fail("mongodb", "the user name before '@' is empty");
  }
  if (hostList === "") fail("mongodb", "the host is missing");
  const hosts = hostList.split(",");
  for (const h of hosts) {
    if (h === "") fail("mongodb", "the host list has an empty entry");
    if (/%2f/i.test(h)) continue; // a Unix socket path
    const { host, port } = splitHostPort("mongodb", h);
    if (host === "") fail("mongodb", "a host name is empty");
    if (port !== undefined) {
      if (scheme === "mongodb+srv") fail("mongodb", "mongodb+srv:// takes a host name without a port");
      parsePort("mongodb", port);
    }
  }
  if (scheme === "mongodb+srv" && hosts.length !== 1) fail("mongodb", "mongodb+srv:// takes exactly one host name");
  // Dapr reads the component's `databaseName` (default daprStore), never the URL's path, which only names the
  // database to authenticate against (components-contrib state/mongodb/mongodb.go `client.Database(DatabaseName)`;
  // dapr/cli pkg/workflow/dclient/dclient.go `client.Database("daprStore")`).
  const database = options.databaseName?.trim() || DAPR_DEFAULTS.mongoDatabase;
  if (/[/\\. "$]/.test(database)) fail("mongodb", `database name "${database}" contains a character MongoDB forbids`);
  return {
    kind: "mongodb",
    url: s,
    srv: scheme === "mongodb+srv",
    hosts,
    database,
    collection: options.tableName?.trim() || DAPR_DEFAULTS.mongoCollection,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Redis

function parseRedis(s: string, scheme: "redis" | "rediss", passwords: string[]): RedisTarget {
  const url = splitUrl("redis", s, passwords);
  if (url.host === "") fail("redis", "the host is missing");
  const path = url.path;
  let db = 0;
  if (path !== "") {
    if (!/^\d+$/.test(path)) fail("redis", `database "${path}" is not a number`);
    db = Number(path);
  }
  const dbParam = url.query.get("db");
  if (dbParam !== null) {
    if (!/^\d+$/.test(dbParam)) fail("redis", `database "${dbParam}" is not a number`);
    db = Number(dbParam);
  }
  return {
    kind: "redis",
    url: s,
    host: url.host,
    port: url.port === undefined ? 6379 : parsePort("redis", url.port),
    db,
    tls: scheme === "rediss",
  };
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
