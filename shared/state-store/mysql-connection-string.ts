/** MySQL connection strings as go-sql-driver/mysql reads them: DSNs (`user:pass@tcp(host:3306)/db?…`) and mysql:// URLs. */
import { z } from "zod";
import {
  DAPR_DEFAULTS,
  decode,
  fail,
  nonEmpty,
  type ParseConnectionStringOptions,
  parsePort,
  port,
  splitHostPort,
  splitTableOption,
  splitUrl,
} from "./connection-string-parts.ts";

export const mysqlTarget = z.object({
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

export type MysqlTarget = z.infer<typeof mysqlTarget>;

/** `[user[:password]@][net[(addr)]]/dbname[?params]`, as go-sql-driver/mysql ParseDSN reads it. */
export const MYSQL_DSN = /^(?:.*@)?[A-Za-z0-9]*(?:\(.*)?\/[^/]*$/s;

export function parseMysqlDsn(s: string, options: ParseConnectionStringOptions, passwords: string[]): MysqlTarget {
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

export function parseMysqlUrl(s: string, options: ParseConnectionStringOptions, passwords: string[]): MysqlTarget {
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
