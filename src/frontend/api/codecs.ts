import type { Api } from "../types.js";
import type { Codec } from "./codec.js";
import { lokiCodec } from "./loki.js";
import { prometheusCodec } from "./prometheus.js";

/** The codec of each API the frontend speaks. */
export const codecs: Record<Api, Codec> = { loki: lokiCodec, prometheus: prometheusCodec };
