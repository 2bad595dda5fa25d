import { ApiError } from "../../http/errors.js";
import type { QueryRequest, QueryResponse } from "../types.js";
import { mergeMatrix, mergeSeries, mergeStreams, mergeStrings, mergeVolume, sumNumbers } from "./merge.js";

type Body = { status: string; data: { resultType?: string } & Record<string, unknown> };

/** Merges the successful answers of a split query, chronologically ordered, by what they hold. */
export function mergeResponses(req: QueryRequest, parts: QueryResponse[]): QueryResponse {
  if (parts.length === 1) return parts[0]!;
  const bodies = parts.map((p) => p.json) as Body[];
  let json: unknown;
  switch (req.kind) {
    case "metric":
    case "log": {
      const type = bodies[0]?.data?.resultType;
      if (type === "matrix") json = mergeMatrix(bodies as never);
      else if (type === "streams") json = mergeStreams(bodies as never, req.limit ?? 100, req.direction ?? "backward");
      else throw new ApiError("internal", `cannot merge split answers of type ${String(type)}`);
      break;
    }
    case "metadata":
      json = req.path.endsWith("/series") ? mergeSeries(bodies as never) : mergeStrings(bodies as never);
      break;
    case "stats":
      json = sumNumbers(bodies);
      break;
    case "volume":
      json = mergeVolume(bodies as never, req.limit ?? 100);
      break;
    default:
      throw new ApiError("internal", `a ${req.kind} query is never split`);
  }
  return { status: 200, contentType: parts[0]!.contentType, json };
}
