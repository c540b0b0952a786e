/** PostgreSQL connection strings as pgx reads them: libpq `key=value` pairs and postgres:// URLs. */
import { readFileSync } from "node:fs";
import { z } from "zod";
import {
  DAPR_DEFAULTS,
  fail,
  nonEmpty,
  type ParseConnectionStringOptions,
  parsePort,
  port,
  splitUrl,
} from "./connection-string-parts.ts";

export const pgSsl = z.union([
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

export const postgresTarget = z.object({
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

export type PostgresTarget = z.infer<typeof postgresTarget>;

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

export function parsePostgresKeyValue(
  s: string,
  options: ParseConnectionStringOptions,
  passwords: string[],
): PostgresTarget {
  const params = parseLibpqKeyValue(s);
  const pw = params.get("password");
  if (pw !== undefined) passwords.push(pw);
  return buildPostgres(params, options);
}

export function parsePostgresUrl(
  s: string,
  options: ParseConnectionStringOptions,
  passwords: string[],
): PostgresTarget {
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
