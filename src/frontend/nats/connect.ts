import { readFileSync } from "node:fs";
import type { JetStreamManager } from "@nats-io/jetstream";
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  nanos,
} from "@nats-io/transport-node";
import type { NatsConnectionConfig } from "../../config/schema.js";

/**
 * Connects to the configured NATS, retrying for ever: a replica started before NATS works once NATS is up, and
 * one that loses NATS reconnects. `log` hears of disconnects and reconnects, once each.
 */
export async function connectNats(
  opts: NatsConnectionConfig,
  name: string,
  log: (line: string) => void,
): Promise<NatsConnection> {
  const nc = await connect(natsOptions(opts));
  void (async () => {
    for await (const s of nc.status())
      if (s.type === "disconnect" || s.type === "reconnect") log(`${name}: NATS ${s.type}ed (${s.server})`);
  })();
  return nc;
}

function natsOptions(o: NatsConnectionConfig): NodeConnectionOptions {
  return {
    servers: o.servers,
    name: "fairgate",
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...(o.token ? { token: o.token } : {}),
    ...(o.user ? { user: o.user, pass: o.password } : {}),
    ...(o.credentials ? { authenticator: credsAuthenticator(readFileSync(o.credentials)) } : {}),
    ...(o.tls ? { tls: { caFile: o.tls.ca_file, certFile: o.tls.cert_file, keyFile: o.tls.key_file } } : {}),
  };
}

/** Makes a stream (a KV or object bucket's too) made before with another max age expire what `ms` says. */
export async function keepFor(jsm: JetStreamManager, stream: string, ms: number): Promise<void> {
  const info = await jsm.streams.info(stream);
  if (info.config.max_age !== nanos(ms)) await jsm.streams.update(stream, { ...info.config, max_age: nanos(ms) });
}
