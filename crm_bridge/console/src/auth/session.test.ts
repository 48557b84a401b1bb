import assert from "node:assert/strict";
import { test } from "node:test";

import { AuthSession, type IssuedToken, jwtClaims, lifetimeSeconds, renewDelayMs, UNREACHABLE_RETRY_MS } from "./session.ts";

/** A JWT-shaped token (unsigned: the console never checks signatures, the bridge does). */
function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "HS256" })}.${part(claims)}.signature`;
}

/** An AuthSession with a fake clock and a scripted bridge. */
function harness(answers: Array<IssuedToken | null | Error>) {
  const timers: Array<{ ms: number; run: () => void }> = [];
  const changes: Array<string | null> = [];
  let calls = 0;
  const session = new AuthSession({
    refresh: async () => {
      calls += 1;
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return answer ?? null;
    },
    onChange: (token) => changes.push(token),
    exclusive: (task) => task(),
    setTimer: (callback, ms) => {
      const timer = {
        ms,
        run: () => {
          timers.splice(timers.indexOf(timer), 1); // fired: no longer pending
          callback();
        },
      };
      timers.push(timer);
      return timer;
    },
    clearTimer: (handle) => {
      const index = timers.indexOf(handle as (typeof timers)[number]);
      if (index >= 0) timers.splice(index, 1);
    },
  });
  return { session, timers, changes, calls: () => calls };
}

test("a token's lifetime: expires_in, else the JWT's own, else 15 minutes", () => {
  assert.equal(lifetimeSeconds({ access_token: "x", expires_in: 900 }), 900);
  assert.equal(lifetimeSeconds({ access_token: jwt({ iat: 1000, exp: 1300 }) }), 300);
  assert.equal(lifetimeSeconds({ access_token: "not a jwt" }), 900);
  assert.deepEqual(jwtClaims(jwt({ sub: "7", sid: "ab" })), { sub: "7", sid: "ab" });
  assert.equal(jwtClaims("nonsense"), null);
});

test("renewal comes a minute early, or a fifth early for short tokens", () => {
  assert.equal(renewDelayMs(900), 840_000);
  assert.equal(renewDelayMs(60), 48_000);
  assert.equal(renewDelayMs(0), 1000);
});

test("the token lives in memory and is renewed before it expires", async () => {
  const h = harness([{ access_token: "second", expires_in: 900 }]);
  h.session.accept({ access_token: "first", expires_in: 900 });
  assert.equal(h.session.accessToken, "first");
  assert.deepEqual(h.timers.map((t) => t.ms), [840_000]);
  h.timers[0].run();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(h.session.accessToken, "second");
  assert.deepEqual(h.changes, ["first", "second"]);
  assert.equal(h.timers.length, 1); // the next renewal is planned
});

test("concurrent renewals share one request (the refresh token is rotated each time)", async () => {
  const h = harness([{ access_token: "new", expires_in: 900 }]);
  const outcomes = await Promise.all([h.session.refresh(), h.session.refresh(), h.session.refresh()]);
  assert.deepEqual(outcomes, ["ok", "ok", "ok"]);
  assert.equal(h.calls(), 1);
});

test("a refused renewal ends the session; an unreachable bridge keeps it and retries", async () => {
  const refused = harness([null]);
  refused.session.accept({ access_token: "first", expires_in: 900 });
  assert.equal(await refused.session.refresh(), "refused");
  assert.equal(refused.session.accessToken, null);
  assert.deepEqual(refused.changes, ["first", null]);
  assert.equal(refused.timers.length, 0);

  const down = harness([new Error("network"), { access_token: "back", expires_in: 900 }]);
  down.session.accept({ access_token: "first", expires_in: 900 });
  assert.equal(await down.session.refresh(), "unreachable");
  assert.equal(down.session.accessToken, "first");
  assert.deepEqual(down.timers.map((t) => t.ms), [UNREACHABLE_RETRY_MS]);
  down.timers[0].run();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(down.session.accessToken, "back");
});

test("on page load with no cookie the session is simply over", async () => {
  const h = harness([null]);
  assert.equal(await h.session.refresh(), "refused");
  assert.deepEqual(h.changes, [null]);
});

test("clearing (log-out) forgets the token and stops renewing", () => {
  const h = harness([]);
  h.session.accept({ access_token: "first", expires_in: 900 });
  h.session.clear();
  assert.equal(h.session.accessToken, null);
  assert.equal(h.timers.length, 0);
});
