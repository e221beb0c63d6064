/* global process, console, fetch, AbortSignal */
// Container healthcheck: exit 0 when GET <url> answers 2xx, else 1. Node's own fetch, since the
// slim image has no curl. Sends GATEWAY_HTTP_TOKEN (or HEALTH_TOKEN) as the bearer token the
// gateway's and the agent's /health require when http.token / health.token is set.
// Usage: node healthcheck.mjs [url]   (default http://127.0.0.1:8080/health)
const url = process.argv[2] ?? 'http://127.0.0.1:8080/health';
const token = process.env.GATEWAY_HTTP_TOKEN || process.env.HEALTH_TOKEN;
const headers = token ? { authorization: `Bearer ${token}` } : {};
try {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(4000) });
  if (!res.ok) console.error(`${url}: HTTP ${res.status}`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  console.error(`${url}: ${err.cause?.code ?? err.message}`);
  process.exit(1);
}
