/**
 * Loopback peers that misbehave, for timeout tests (127.0.0.1 only, OS-chosen free ports, stopped by the test):
 *
 *   startSilentServer()  accepts TCP connections and never sends a byte;
 *   startFreezingProxy() forwards to a real server until freeze() is called, then holds every connection open and
 *                        forwards nothing either way (a server that stopped answering mid-run, as under SIGSTOP);
 *                        cut() drops every connection at once; the bytes it forwarded tell a test how far a run got.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export interface FaultyPeer {
  host: string;
  port: number;
  /** host:port */
  address: string;
  /** Connections accepted so far. */
  accepted(): number;
  stop(): Promise<void>;
}

export interface FreezingProxy extends FaultyPeer {
  /** From now on nothing is forwarded in either direction; connections stay open. */
  freeze(): void;
  /** Destroys every open connection (both sides); new ones are still accepted and forwarded. */
  cut(): void;
  /** Bytes forwarded so far from the server to its clients. */
  bytesFromServer(): number;
  /** Bytes forwarded so far from the clients to the server. */
  bytesFromClients(): number;
  /** Resolves as soon as the server has sent more than `bytes` (checked as each chunk passes). */
  afterBytesFromServer(bytes: number): Promise<void>;
  /** Resolves as soon as the clients have sent more than `bytes` (e.g. mid-upload). */
  afterBytesFromClients(bytes: number): Promise<void>;
  /** Holds every chunk this long before forwarding it (in order): a slow network, so a run lasts long enough. */
  setLatency(ms: number): void;
}

const HOST = "127.0.0.1";

async function listen(server: Server, sockets: Set<Socket>): Promise<Omit<FaultyPeer, "accepted">> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    host: HOST,
    port,
    address: `${HOST}:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A server that accepts connections and never answers (nor closes them until stop()). */
export async function startSilentServer(): Promise<FaultyPeer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    socket.resume(); // read and drop what the client sends, so its writes never block
  });
  return { ...(await listen(server, sockets)), accepted: () => accepted };
}

/** A TCP proxy to `target` (host:port) that can be frozen. */
export async function startFreezingProxy(target: { host: string; port: number }): Promise<FreezingProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let frozen = false;
  let fromServer = 0;
  let fromClients = 0;
  let latencyMs = 0;
  const waiters: Array<{ fromServer: boolean; bytes: number; resolve: () => void }> = [];
  const wait = (fromServerSide: boolean, bytes: number) =>
    new Promise<void>((resolve) => {
      if ((fromServerSide ? fromServer : fromClients) > bytes) resolve();
      else waiters.push({ fromServer: fromServerSide, bytes, resolve });
    });
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    accepted++;
    track(client);
    const upstream = tcpConnect(target.port, target.host);
    track(upstream);
    const forward = (from: Socket, to: Socket) => {
      from.on("data", (chunk: Buffer) => {
        if (frozen) return;
        const send = () => {
          if (frozen) return;
          if (from === upstream) fromServer += chunk.length;
          else fromClients += chunk.length;
          to.write(chunk);
          for (const waiter of waiters.filter((w) => (w.fromServer ? fromServer : fromClients) > w.bytes)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve();
          }
        };
        // Timers of equal delay fire in the order they were set: the stream stays in order.
        if (latencyMs > 0) setTimeout(send, latencyMs);
        else send();
      });
      from.on("close", () => {
        const close = () => {
          if (!frozen) to.destroy();
        };
        if (latencyMs > 0) setTimeout(close, latencyMs);
        else close();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  return {
    ...(await listen(server, sockets)),
    accepted: () => accepted,
    freeze: () => {
      frozen = true;
    },
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    bytesFromServer: () => fromServer,
    bytesFromClients: () => fromClients,
    afterBytesFromServer: (bytes: number) => wait(true, bytes),
    afterBytesFromClients: (bytes: number) => wait(false, bytes),
    setLatency: (ms: number) => {
      latencyMs = ms;
    },
  };
}
