import assert from "node:assert/strict";
import { test } from "node:test";

import { historyEndpoint } from "./endpoints.ts";
import { fetchHistory, parseHistory } from "./history.ts";

const SESSION = `w_${"a".repeat(32)}.${"b".repeat(43)}`;

test("the history endpoint carries the session token in a header, never in the URL", () => {
  assert.deepEqual(historyEndpoint("http://127.0.0.1:8000/", SESSION), {
    url: "http://127.0.0.1:8000/api/v1/widget/history",
    headers: { "X-Widget-Session": SESSION },
  });
  const { url } = historyEndpoint("https://crm.example/base", SESSION);
  assert.equal(url, "https://crm.example/base/api/v1/widget/history");
  assert.ok(!url.includes("?") && !url.includes(SESSION));
});

test("history lines are read defensively", () => {
  const lines = parseHistory({
    data: [
      { id: "m-1", role: "customer", text: "你好", at: "2026-01-01T00:00:00Z", agent_name: null },
      { id: "m-2", role: "agent", text: "<b>hi</b>", agent_name: "李娜", kb_entry_id: null },
      { id: "m-3", role: "bot", text: "Free returns", kb_entry_id: "returns" },
      { id: "m-4", role: "hacker", text: "x" },
      { id: "m-5", role: "bot", text: null },
      "junk",
    ],
  });
  assert.deepEqual(
    lines.map((l) => [l.id, l.role, l.text, l.agentName, l.kbEntryId]),
    [
      ["h-m-1", "customer", "你好", null, null],
      ["h-m-2", "agent", "<b>hi</b>", "李娜", null],
      ["h-m-3", "bot", "Free returns", null, "returns"],
    ],
  );
  assert.throws(() => parseHistory({ detail: "nope" }));
});

test("fetchHistory asks the endpoint with the token header and fails on HTTP errors", async () => {
  const asked: [string, RequestInit | undefined][] = [];
  const ok = (async (url: string, init?: RequestInit) => {
    asked.push([url, init]);
    return new Response(JSON.stringify({ data: [{ id: 1, role: "bot", text: "hi" }], count: 1 }));
  }) as typeof fetch;
  const lines = await fetchHistory("http://bridge", SESSION, ok);
  assert.equal(asked.length, 1);
  const [url, init] = asked[0];
  assert.equal(url, "http://bridge/api/v1/widget/history");
  assert.deepEqual(init?.headers, { Accept: "application/json", "X-Widget-Session": SESSION });
  assert.equal(init?.credentials, "omit");
  assert.equal(lines[0].text, "hi");
  const failing = (async () => new Response("no", { status: 422 })) as typeof fetch;
  await assert.rejects(fetchHistory("http://bridge", SESSION, failing), /HTTP 422/);
});

test("401 (the token is not valid) is no history, not an error", async () => {
  const refused = (async () => new Response('{"detail":"invalid session"}', { status: 401 })) as typeof fetch;
  assert.deepEqual(await fetchHistory("http://bridge", `w_${"a".repeat(32)}`, refused), []);
});

test("fetchHistory gives up after its timeout", async () => {
  const hanging = ((_url: string, init?: RequestInit) =>
    new Promise((_resolve, reject) => {
      init?.signal?.addEventListener("abort", () => reject(new Error("aborted")));
    })) as typeof fetch;
  await assert.rejects(fetchHistory("http://bridge", SESSION, hanging, 20), /aborted/);
});
