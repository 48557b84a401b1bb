import assert from "node:assert/strict";
import { test } from "node:test";

import { type Drain, type LockRunner, Outbox, type OutboxItem, parseOutbox } from "./outbox.ts";
import { memoryStore, SiteStore } from "./storage.ts";

const noLock: LockRunner = (_name, task) => task();
const item = (n: number, text: string | null = `m${n}`): OutboxItem => ({
  id: `c-${n}`,
  message: text ?? `/kb_helpful{"kb_entry":"e${n}"}`,
  text,
  at: n,
});

function fakeDrain(connected: () => boolean) {
  const sent: string[] = [];
  const shown: string[] = [];
  const drain: Drain = {
    canSend: connected,
    send: async (i) => void sent.push(i.message),
    onSent: (i) => void shown.push(i.id),
  };
  return { drain, sent, shown };
}

test("the queue survives a reload (it lives in the store)", () => {
  const kv = memoryStore();
  new Outbox(new SiteStore(kv, "s"), noLock).push(item(1));
  const reloaded = new Outbox(new SiteStore(kv, "s"), noLock);
  assert.deepEqual(reloaded.items(), [item(1)]);
  assert.equal(reloaded.storageKey, "csa:s:outbox");
});

test("offline: nothing is sent; online: everything once, in order", async () => {
  const outbox = new Outbox(new SiteStore(memoryStore(), "s"), noLock);
  let online = false;
  const { drain, sent, shown } = fakeDrain(() => online);
  outbox.push(item(1));
  outbox.push(item(2, null));
  outbox.push(item(3));
  await outbox.flush(drain);
  assert.deepEqual(sent, []);
  assert.equal(outbox.items().length, 3);
  online = true;
  await outbox.flush(drain);
  assert.deepEqual(sent, ["m1", '/kb_helpful{"kb_entry":"e2"}', "m3"]);
  assert.deepEqual(shown, ["c-1", "c-2", "c-3"]);
  assert.deepEqual(outbox.items(), []);
  await outbox.flush(drain);
  assert.equal(sent.length, 3);
});

test("an item leaves the stored queue before it is emitted (never sent twice)", async () => {
  const outbox = new Outbox(new SiteStore(memoryStore(), "s"), noLock);
  outbox.push(item(1));
  outbox.push(item(2));
  const storedWhenSending: number[] = [];
  let connected = true;
  await outbox.flush({
    canSend: () => connected,
    send: async () => {
      storedWhenSending.push(outbox.items().length);
      connected = false; // the connection drops after the first message
    },
    onSent: () => {},
  });
  assert.deepEqual(storedWhenSending, [1]);
  assert.deepEqual(outbox.items(), [item(2)]);
});

test("concurrent flushes coalesce and keep the order", async () => {
  const outbox = new Outbox(new SiteStore(memoryStore(), "s"), noLock);
  const sent: string[] = [];
  const drain: Drain = {
    canSend: () => true,
    send: (i) => new Promise((resolve) => setTimeout(() => resolve(void sent.push(i.message)), 5)),
    onSent: () => {},
  };
  outbox.push(item(1));
  const first = outbox.flush(drain);
  outbox.push(item(2));
  const second = outbox.flush(drain); // while the first is waiting for its acknowledgement
  await Promise.all([first, second]);
  assert.deepEqual(sent, ["m1", "m2"]);
});

test("the flush runs under the outbox lock", async () => {
  const names: string[] = [];
  const outbox = new Outbox(new SiteStore(memoryStore(), "site"), (name, task) => {
    names.push(name);
    return task();
  });
  outbox.push(item(1));
  await outbox.flush(fakeDrain(() => true).drain);
  assert.deepEqual(names, ["csa:site:outbox"]);
});

test("a damaged stored queue reads as empty or keeps its valid items", () => {
  assert.deepEqual(parseOutbox(null), []);
  assert.deepEqual(parseOutbox("{"), []);
  assert.deepEqual(parseOutbox('{"a":1}'), []);
  assert.deepEqual(parseOutbox(JSON.stringify([item(1), { id: 2 }])), [item(1)]);
});
