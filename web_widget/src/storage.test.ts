import assert from "node:assert/strict";
import { test } from "node:test";

import { isSessionToken, randomHex, storeSession, storedSession } from "./session.ts";
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

test("random hex comes from the random source", () => {
  assert.match(randomHex(8), /^[0-9a-f]{16}$/);
  assert.notEqual(randomHex(8), randomHex(8));
  assert.equal(randomHex(2, (bytes) => bytes.fill(0xab)), "abab");
});

test("session tokens are opaque: at most 200 of A-Z a-z 0-9 _ . -", () => {
  const token = `w_${"0f".repeat(16)}.${"Ab-_9".repeat(8)}xyz`;
  assert.ok(isSessionToken(token));
  assert.ok(isSessionToken(`w_${"a".repeat(32)}`), "the previous build's ids are sent like any token");
  assert.ok(isSessionToken("x".repeat(200)));
  for (const bad of ["", "x".repeat(201), "a b", "a\nb", "tok;en", "令牌", null, 42, { token }]) {
    assert.ok(!isSessionToken(bad), JSON.stringify(bad));
  }
});

test("the browser keeps the token the server issued and invents none", () => {
  const store = new SiteStore(memoryStore(), "s");
  assert.equal(storedSession(store), null);
  const token = `w_${"c".repeat(32)}.${"d".repeat(43)}`;
  storeSession(store, token);
  assert.equal(store.get("session"), token);
  assert.equal(storedSession(store), token);
  store.set("session", "not a token!");
  assert.equal(storedSession(store), null);
  assert.throws(() => storeSession(store, "a b"), TypeError);
});
