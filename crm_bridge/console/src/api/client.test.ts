import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiClient, ApiError } from "./client.ts";
import { endpoints } from "./endpoints.ts";

type Call = { url: string; headers: Record<string, string> };

/** Replace fetch with answers by call order; what was sent is recorded. */
function fakeFetch(statuses: number[]): Call[] {
  const calls: Call[] = [];
  globalThis.fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, headers: init.headers as Record<string, string> });
    const status = statuses.shift() ?? 500;
    return new Response(JSON.stringify(status === 200 ? { ok: true } : { detail: "no" }), { status });
  }) as typeof fetch;
  return calls;
}

test("an expired token is renewed once and the call retried with the new one", async () => {
  let token = "old";
  let unauthorized = 0;
  const api = new ApiClient({
    token: () => token,
    refresh: async () => {
      token = "new";
      return "ok";
    },
    onUnauthorized: () => (unauthorized += 1),
  });
  const calls = fakeFetch([401, 200]);
  assert.deepEqual(await api.send(endpoints.me()), { ok: true });
  assert.deepEqual(
    calls.map((c) => c.headers.Authorization),
    ["Bearer old", "Bearer new"],
  );
  assert.equal(unauthorized, 0);
});

test("a refused renewal means the session is over", async () => {
  let unauthorized = 0;
  const api = new ApiClient({ token: () => "old", refresh: async () => "refused", onUnauthorized: () => (unauthorized += 1) });
  fakeFetch([401]);
  await assert.rejects(api.send(endpoints.me()), (err: unknown) => err instanceof ApiError && err.status === 401);
  assert.equal(unauthorized, 1);
});

test("calls without renewal (log-in, refresh, log-out) never loop", async () => {
  let refreshed = 0;
  const api = new ApiClient({ token: () => "t", refresh: async () => ((refreshed += 1), "ok"), onUnauthorized: () => undefined });
  const calls = fakeFetch([401, 401]);
  await assert.rejects(api.send(endpoints.refresh(), { authenticated: false }));
  await assert.rejects(api.send(endpoints.logout(), { renew: false }));
  assert.equal(refreshed, 0);
  assert.equal(calls[0].headers.Authorization, undefined);
  assert.equal(calls[0].headers["X-Requested-With"], "csa-console");
  assert.equal(calls[1].headers.Authorization, "Bearer t");
});
