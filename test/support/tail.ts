import WebSocket from "ws";

/** Opens a tail WebSocket, waits for the greeting, sends "ping", and returns both messages. */
export async function tailRoundTrip(wsUrl: string, headers: Record<string, string>): Promise<string[]> {
  const ws = new WebSocket(wsUrl, { headers });
  const messages: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      ws.on("message", (m) => {
        messages.push(m.toString());
        if (messages.length === 1) ws.send("ping");
        if (messages.length === 2) resolve();
      });
      ws.on("error", reject);
    });
  } finally {
    ws.close();
  }
  return messages;
}

/** The HTTP status a refused WebSocket upgrade gets; rejects if the upgrade succeeds. */
export function refusedUpgradeStatus(wsUrl: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers });
    ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.on("open", () => {
      ws.terminate();
      reject(new Error("the upgrade was accepted"));
    });
    ws.on("error", () => undefined);
  });
}
