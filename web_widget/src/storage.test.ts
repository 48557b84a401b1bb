import assert from "node:assert/strict";
import { test } from "node:test";

import { ensureSession, isSessionId, newSessionId, storedSession } from "./session.ts";
import { memoryStore, SiteStore } from "./storage.ts";

test("keys are namespaced by site", () => {
  const kv = memoryStore();
  const a = new SiteStore(kv, "shop-a");
  const b = new SiteStore(kv, "shop-b");
  a.set("lang", "zh");
  assert.equal(kv.get("csa:shop-a:lang"), "zh");
  assert.equal(b.get("lang"), null);
  a.setJSON("x", { n: 1 });
  assert.deepEqual(a.getJSON("x"), { n: 1 });
  kv.set("csa:shop-a:broken", "{");
  assert.equal(a.getJSON("broken"), null);
});

test("remembered maps keep the most recent keys", () => {
  const store = new SiteStore(memoryStore(), "s");
  assert.deepEqual(store.getMap("m"), {});
  for (const key of ["a", "b", "c", "a"]) store.remember("m", key, key.toUpperCase(), 2);
  assert.deepEqual(store.getMap("m"), { c: "C", a: "A" });
  store.set("m", '["not a map"]');
  assert.deepEqual(store.getMap("m"), {});
});

test("session ids are w_ and 32 hex characters from the random source", () => {
  const id = newSessionId();
  assert.match(id, /^w_[0-9a-f]{32}$/);
  assert.notEqual(newSessionId(), id);
  const fixed = newSessionId((bytes) => bytes.fill(0xab));
  assert.equal(fixed, `w_${"ab".repeat(16)}`);
  assert.ok(isSessionId(fixed));
  assert.ok(!isSessionId("w_xyz") && !isSessionId(`w_${"A".repeat(32)}`) && !isSessionId(null));
});

test("the session is created once and then reused; a foreign value is replaced", () => {
  const store = new SiteStore(memoryStore(), "s");
  assert.equal(storedSession(store), null);
  const first = ensureSession(store);
  assert.equal(ensureSession(store), first);
  assert.equal(store.get("session"), first);
  store.set("session", "alice");
  assert.equal(storedSession(store), null);
  assert.notEqual(ensureSession(store), "alice");
});
