// A TCP proxy in front of a loopback service (Azurite) that a test can switch between passing
// traffic, freezing (connections accepted, nothing forwarded or answered) and down (connections
// refused: the listener is closed), to see what the app answers when its storage misbehaves.
import net from 'node:net';

export type ProxyMode = 'pass' | 'freeze' | 'down';

export interface FaultProxy {
  /** `http://127.0.0.1:PORT` plus the target's path, for a connection string. */
  port: number;
  setMode(mode: ProxyMode): Promise<void>;
  stop(): Promise<void>;
}

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  let mode: ProxyMode = 'pass';
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const server = net.createServer((client) => {
    track(client);
    if (mode === 'freeze') return; // hold it open, say nothing
    const upstream = net.connect(targetPort, '127.0.0.1');
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  const port = await listen(0);
  const dropAll = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    port,
    async setMode(next) {
      if (next === mode) return;
      if (mode === 'down') await listen(port);
      mode = next;
      dropAll(); // connections kept alive from before must see the new mode too
      if (next === 'down') await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async stop() {
      dropAll();
      if (mode !== 'down') await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
