// The image's HEALTHCHECK: exit 0 when fairgate's /ready answers 200 within 2 s, 1 otherwise (node:*-slim images
// have no curl). FAIRGATE_READY_URL names the URL, for configs that listen elsewhere than 127.0.0.1:8080.
const url = process.env.FAIRGATE_READY_URL || "http://127.0.0.1:8080/ready";
try {
  const answer = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (answer.status !== 200) console.error(`${url}: ${answer.status} ${(await answer.text()).slice(0, 200)}`);
  process.exit(answer.status === 200 ? 0 : 1);
} catch (e) {
  console.error(`${url}: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
