import type { Limits } from "../../config/schema.js";
import type { Api, Params, Processed, QueryRequest, QueryResponse } from "../types.js";

/** What the querier is asked for one (sub-)request. */
export interface QuerierCall {
  method: "GET" | "POST";
  path: string;
  params: URLSearchParams;
}

/** One per API: HTTP in, QueryRequest out; QueryRequest to querier calls; querier answers merged. */
export interface Codec {
  api: Api;
  /** `route` is the path below the API root, e.g. "query_range" or "label/app/values". Throws ApiError (400). */
  parse(route: string, params: Params, nowNs: bigint, limits: Limits): QueryRequest;
  toQuerier(req: QueryRequest): QuerierCall;
  merge(req: QueryRequest, parts: QueryResponse[]): QueryResponse;
  /** The querier time an answer cost, when the querier says more than its wall time does. */
  querierTimeMs?(res: QueryResponse, wallMs: number): number;
  /** What the querier read to answer, when it says (Loki's stats). */
  processed?(res: QueryResponse): Processed | undefined;
}
