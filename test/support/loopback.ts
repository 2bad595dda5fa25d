import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Listening {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Stops listening and cuts kept-alive connections, so that closing never waits on a client. */
  close(): Promise<void>;
}

/** Starts a test server on a free loopback port. */
export async function listenOnLoopback(server: Server): Promise<Listening> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
