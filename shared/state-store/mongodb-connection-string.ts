/** MongoDB connection strings (mongodb:// and mongodb+srv://); the database is the component's databaseName, as in Dapr. */
import { z } from "zod";
import {
  DAPR_DEFAULTS,
  decode,
  fail,
  nonEmpty,
  type ParseConnectionStringOptions,
  parsePort,
  splitHostPort,
} from "./connection-string-parts.ts";

export const mongoTarget = z.object({
  kind: z.literal("mongodb"),
  /** The string as given; the driver parses it. */
  url: nonEmpty,
  srv: z.boolean(),
  hosts: z.array(nonEmpty).min(1),
  database: nonEmpty,
  collection: nonEmpty,
});

export type MongoTarget = z.infer<typeof mongoTarget>;

export function parseMongo(
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
