/** Redis connection URLs (redis:// and rediss://, with the database index in the path). */
import { z } from "zod";
import { fail, nonEmpty, parsePort, port, splitUrl } from "./connection-string-parts.ts";

export const redisTarget = z.object({
  kind: z.literal("redis"),
  url: nonEmpty,
  host: nonEmpty,
  port,
  db: z.number().int().min(0),
  tls: z.boolean(),
});

export type RedisTarget = z.infer<typeof redisTarget>;

export function parseRedis(s: string, scheme: "redis" | "rediss", passwords: string[]): RedisTarget {
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
