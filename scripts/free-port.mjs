import { createServer } from "node:net";

/** A loopback port nobody listens on right now (the scripts' servers start on it just after). */
export const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.once("error", reject);
  });
