/**
 * Edges of the webhook server's HTTP handling (#12 item 12), over raw TCP so that what the client receives is seen
 * byte for byte: request headers far above the limit get a 431 and an orderly close (not a TCP reset while the client
 * is still sending), and a body shorter than its Content-Length gets a 408 once the receive timeout has passed.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebhookServer, type WebhookServer } from "../../cli/webhook/server.ts";
import { createSecretResolver } from "../../shared/util/secrets.ts";
import { compileWebhookConfig } from "../../shared/webhook/routes.ts";
import { capturingLogger, ROUTES, secretEnv } from "./helpers.ts";

let server: WebhookServer;

beforeAll(async () => {
  server = await startWebhookServer({
    config: compileWebhookConfig(ROUTES),
    sidecarUrl: "http://127.0.0.1:1",
    secrets: createSecretResolver({ env: secretEnv() }),
    logger: capturingLogger().logger,
    port: 0,
    receiveTimeoutMs: 1_000,
  });
});
afterAll(async () => {
  await server?.close();
});

interface RawAnswer {
  text: string;
  /** The socket error, if the connection ended with one (e.g. ECONNRESET, EPIPE). */
  error: string | undefined;
  ms: number;
}

/**
 * Sends `chunks` one by one (a short pause between them, as a client writing a large request does) without reading
 * until all are sent, then reads the answer to its end.
 */
function rawRequest(chunks: string[]): Promise<RawAnswer> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(server.port, server.host);
    let text = "";
    let settled = false;
    const finish = (error: string | undefined) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ text, error, ms: Date.now() - started });
    };
    socket.pause();
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
    });
    socket.on("error", (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
    socket.on("end", () => finish(undefined));
    void (async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        await new Promise((r) => setTimeout(r, 1));
      }
      setTimeout(() => socket.resume(), 100);
    })();
  });
}

function split(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

describe("webhook server edges", () => {
  it("answers a 100 KB request header with 431 and closes in order", async () => {
    const request = `POST /hooks/github HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\nContent-Length: 2\r\n\r\n{}`;
    const answer = await rawRequest(split(request, 4096));
    expect(answer.error).toBeUndefined();
    expect(answer.text).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(answer.text).toMatch(/\r\nconnection: close\r\n/i);
  });

  it("answers a body shorter than its Content-Length with 408 after the receive timeout", async () => {
    const answer = await rawRequest([
      'POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    ]);
    expect(answer.error).toBeUndefined();
    expect(answer.text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(answer.ms).toBeGreaterThanOrEqual(900);
    expect(answer.ms).toBeLessThan(4_000);
  });

  it("still serves a well-formed request on the same server", async () => {
    const response = await fetch(`${server.url}/no-such-route`, { method: "POST", body: "{}" });
    expect(response.status).toBe(404);
  });
});
