import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a real server that counts the bytes the server sends back,
 * and can hold responses after a byte budget (to kill a client part-way through a download).
 */
export interface CountingProxy {
  host: string;
  /** Bytes sent from the upstream to clients so far. */
  bytesDown(): number;
  /** Stop forwarding upstream bytes once this many have passed (undefined: no limit). */
  stallAfter(bytes: number | undefined): void;
  close(): Promise<void>;
}

export async function startCountingProxy(upstreamPort: number): Promise<CountingProxy> {
  let down = 0;
  let budget: number | undefined;
  const stalled: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      const send = (buf: Buffer) => {
        // Bytes for a client that has gone (a killed pull) were never fetched: don't count them.
        if (client.destroyed) return;
        down += buf.length;
        client.write(buf);
      };
      if (budget === undefined) return send(chunk);
      const room = Math.max(0, budget - down);
      if (room >= chunk.length) return send(chunk);
      if (room > 0) send(chunk.subarray(0, room));
      upstream.pause();
      const rest = chunk.subarray(room);
      stalled.push(() => {
        send(rest);
        upstream.resume();
      });
    });
    upstream.on('end', () => client.end());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    bytesDown: () => down,
    stallAfter: (b) => {
      budget = b;
      if (b === undefined) for (const go of stalled.splice(0)) go();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
