/**
 * What the per-store connection-string parsers share: the problem they throw (connection-string.ts turns it into the
 * one-line error that names the accepted forms and never the password), Dapr's defaults, and the URL, host:port and
 * percent-decoding helpers. One store's rules live in its own `<store>-connection-string.ts`.
 */
import { z } from "zod";

export const port = z.number().int().min(1).max(65535);
export const nonEmpty = z.string().min(1);

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

export type Form = "postgresql" | "mysql" | "sqlserver" | "mongodb" | "redis" | "sqlite";

export class ParseProblem extends Error {
  constructor(
    readonly form: Form | undefined,
    message: string,
  ) {
    super(message);
  }
}

export function fail(form: Form | undefined, message: string): never {
  throw new ParseProblem(form, message);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
export const CONTROL = /[\u0000-\u001f\u007f]/;

export function parsePort(form: Form, text: string, what = "port"): number {
  if (!/^\d{1,5}$/.test(text)) fail(form, `${what} "${text}" is not a number between 1 and 65535`);
  const n = Number(text);
  if (n < 1 || n > 65535) fail(form, `${what} ${n} is out of range (1-65535)`);
  return n;
}

export function decode(form: Form, text: string, what: string): string {
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
export function splitHostPort(form: Form, text: string): { host: string; port: string | undefined } {
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

export function splitTableOption(tableName: string | undefined): { schema: string | undefined; table: string } {
  const name = tableName?.trim() || DAPR_DEFAULTS.tableName;
  const dot = name.indexOf(".");
  if (dot < 0) return { schema: undefined, table: name };
  return { schema: name.slice(0, dot), table: name.slice(dot + 1) };
}

export interface UrlParts {
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
export function splitUrl(form: Form, s: string, passwords: string[]): UrlParts {
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
