/** SQL Server connection strings as go-mssqldb reads them: ADO `Server=…;Database=…;` strings and sqlserver:// URLs. */
import { z } from "zod";
import {
  DAPR_DEFAULTS,
  fail,
  nonEmpty,
  type ParseConnectionStringOptions,
  parsePort,
  port,
  splitTableOption,
  splitUrl,
} from "./connection-string-parts.ts";

export const sqlServerTarget = z.object({
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

export type SqlServerTarget = z.infer<typeof sqlServerTarget>;

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

export function isAdoForm(s: string): boolean {
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

export function parseSqlServerAdo(
  s: string,
  options: ParseConnectionStringOptions,
  passwords: string[],
): SqlServerTarget {
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

export function parseSqlServerUrl(
  s: string,
  options: ParseConnectionStringOptions,
  passwords: string[],
): SqlServerTarget {
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
