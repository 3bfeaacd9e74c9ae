import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback HTTP/1.1 proxy that, like nginx's default `proxy_request_buffering on`, forwards a
 * request to the upstream only once its whole body has arrived; responses pass through as they
 * come. A client that dies mid-request therefore never leaves half a chunk at the registry. It
 * counts request bytes forwarded upstream, can report when a partial request is being held, and
 * can cut every client connection (refusing new ones) to simulate the network going away.
 * Bodies must carry Content-Length (lading's pushes do); anything else is passed through raw.
 */
export interface BufferingProxy {
  host: string;
  /** Request bytes (heads and bodies) forwarded to the upstream. */
  bytesUp(): number;
  /** Resolves once a request held back by `stallAfter` has at least `bytes` of it received. */
  whenHolding(bytes: number): Promise<void>;
  /** Stop forwarding (hold, whole or not) any request that would take bytesUp past `n`. */
  stallAfter(n: number | undefined): void;
  /** Destroy every client connection and refuse new ones until `restore()`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startBufferingProxy(upstreamPort: number): Promise<BufferingProxy> {
  let up = 0;
  let down = false;
  let stall: number | undefined;
  const sockets = new Set<Socket>();
  const holders = new Map<Socket, number>();
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const check = () => {
    for (const w of [...waiters]) {
      if ([...holders.values()].some((v) => v >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };

  const server: Server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const kill = () => {
      client.destroy();
      upstream.destroy();
      holders.delete(client);
    };
    client.on('close', () => {
      sockets.delete(client);
      holders.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.on('error', kill);
    upstream.on('error', kill);
    upstream.on('data', (c: Buffer) => client.write(c));
    upstream.on('end', () => client.end());

    let buf = Buffer.alloc(0);
    let raw = false;
    let need: number | undefined; // total bytes (head + body) of the request being assembled
    client.on('data', (chunk: Buffer) => {
      if (raw) {
        up += chunk.length;
        upstream.write(chunk);
        return;
      }
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (need === undefined) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buf.subarray(0, end).toString('latin1');
          if (/\r\ntransfer-encoding:/i.test(head)) {
            raw = true;
            up += buf.length;
            upstream.write(buf);
            buf = Buffer.alloc(0);
            return;
          }
          const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          need = end + 4 + (cl ? Number(cl[1]) : 0);
        }
        if (buf.length < need) {
          // Only requests the stall will hold back count as held.
          if (stall !== undefined && up + need > stall) {
            holders.set(client, buf.length);
            check();
          }
          return;
        }
        if (stall !== undefined && up + need > stall) {
          // Held whole and never forwarded: the upstream never sees this request.
          holders.set(client, buf.length);
          check();
          return;
        }
        const req = buf.subarray(0, need);
        buf = buf.subarray(need);
        need = undefined;
        holders.delete(client);
        up += req.length;
        upstream.write(req);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    bytesUp: () => up,
    whenHolding: (n) =>
      new Promise<void>((resolve) => {
        waiters.push({ n, resolve });
        check();
      }),
    stallAfter: (n) => {
      stall = n;
    },
    cut: () => {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore: () => {
      down = false;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
