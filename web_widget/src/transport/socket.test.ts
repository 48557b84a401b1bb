import assert from "node:assert/strict";
import { test } from "node:test";

import type { SignedUser } from "../config.ts";
import { startConversation, storedSession } from "../session.ts";
import { memoryStore, SiteStore } from "../storage.ts";
import type { BotMessage, IdentityRefusal } from "./protocol.ts";
import { connectRasa, type RasaConnectionOptions, type SocketLike } from "./socket.ts";

const OLD = `w_${"a".repeat(32)}.${"x".repeat(43)}`;
const NEW = `w_${"b".repeat(32)}.${"y".repeat(43)}`;

/** A socket.io client socket that records what is emitted; the test plays the server. */
class FakeSocket implements SocketLike {
  connected = false;
  emitted: [string, unknown][] = [];
  private listeners = new Map<string, ((...args: any[]) => void)[]>();

  on(event: string, listener: (...args: any[]) => void) {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  emit(event: string, ...args: unknown[]) {
    this.emitted.push([event, args[0]]);
    const ack = args[1];
    if (typeof ack === "function") ack(); // Rasa acknowledges at once here
    return this;
  }
  timeout() {
    return this;
  }
  connect() {
    return this;
  }
  disconnect() {
    this.connected = false;
    return this;
  }
  /** The server side: fire an event at the client. */
  server(event: string, ...args: unknown[]) {
    if (event === "connect") this.connected = true;
    for (const listener of this.listeners.get(event) ?? []) listener(...args);
  }
  sent(event: string): unknown[] {
    return this.emitted.filter(([name]) => name === event).map(([, payload]) => payload);
  }
}

function connect(token: string | null, user: SignedUser | null = null) {
  const socket = new FakeSocket();
  const log: string[] = [];
  const sessions: [string, boolean][] = [];
  const refusals: IdentityRefusal[] = [];
  let currentUser = user;
  const options: RasaConnectionOptions = {
    url: "http://rasa",
    token,
    user: () => currentUser,
    onState: (state) => log.push(state),
    onBotMessage: (message: BotMessage) => log.push(`bot:${message.text}`),
    onSession: (confirmed, isNew) => sessions.push([confirmed, isNew]),
    onReady: () => log.push("ready"),
    onIdentityRefused: (refusal) => refusals.push(refusal),
  };
  const connection = connectRasa(options, () => socket);
  return { socket, connection, log, sessions, refusals, setUser: (u: SignedUser | null) => (currentUser = u) };
}

test("session_request carries the stored token, or null for a first visit", () => {
  const first = connect(null);
  first.socket.server("connect");
  assert.deepEqual(first.socket.sent("session_request"), [{ session_id: null }]);
  assert.equal(first.connection.ready(), false, "nothing is sent before session_confirm");

  const returning = connect(OLD);
  returning.socket.server("connect");
  assert.deepEqual(returning.socket.sent("session_request"), [{ session_id: OLD }]);
});

test("the same token confirmed continues the conversation; another one is a new conversation", async () => {
  const same = connect(OLD);
  same.socket.server("connect");
  same.socket.server("session_confirm", OLD);
  assert.deepEqual(same.sessions, [[OLD, false]]);
  assert.deepEqual(same.log, ["connecting", "online", "ready"]);
  assert.equal(same.connection.ready(), true);

  const replaced = connect(OLD);
  replaced.socket.server("connect");
  replaced.socket.server("session_confirm", { session_id: NEW }); // the object form too
  assert.deepEqual(replaced.sessions, [[NEW, true]]);
  await replaced.connection.send("hello");
  assert.deepEqual(replaced.socket.sent("user_uttered"), [{ message: "hello", session_id: NEW }]);
  // A reconnect asks for the confirmed token, which the server confirms: nothing new.
  replaced.socket.server("disconnect", "transport close");
  assert.equal(replaced.connection.ready(), false);
  replaced.socket.server("connect");
  replaced.socket.server("session_confirm", NEW);
  assert.deepEqual(replaced.socket.sent("session_request"), [{ session_id: OLD }, { session_id: NEW }]);
  assert.deepEqual(replaced.sessions, [[NEW, true], [NEW, false]]);

  const first = connect(null);
  first.socket.server("connect");
  first.socket.server("session_confirm", NEW);
  assert.deepEqual(first.sessions, [[NEW, true]]);
});

test("a confirm without a usable token leaves the widget offline", () => {
  const { socket, connection, sessions } = connect(OLD);
  const warn = console.warn;
  const warned: unknown[] = [];
  console.warn = (...args: unknown[]) => void warned.push(args[0]);
  try {
    socket.server("connect");
    for (const bad of [null, 42, "", "a b", "<script>", "x".repeat(201), { session_id: 7 }]) {
      socket.server("session_confirm", bad);
    }
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(sessions, []);
  assert.equal(connection.ready(), false);
  assert.equal(warned.length, 7);
});

test("a new conversation stores the confirmed token and forgets the old one's replies and votes", () => {
  const store = new SiteStore(memoryStore(), "shop");
  store.set("session", OLD);
  store.setJSON("replies", { text: "Rate us", replies: [] });
  store.setJSON("votes", { returns: "helpful" });
  store.setJSON("titles", { "/affirm": "Yes" });
  startConversation(store, NEW);
  assert.equal(storedSession(store), NEW);
  assert.equal(store.get("replies"), null);
  assert.equal(store.get("votes"), null);
  assert.deepEqual(store.getMap("titles"), { "/affirm": "Yes" });
});

test("user_uttered carries the signed user in force when it is sent", async () => {
  const user = { id: "demo-user-1", expires: 1767225600, hash: "ab".repeat(32) };
  const { socket, connection, setUser } = connect(OLD, user);
  socket.server("connect");
  socket.server("session_confirm", OLD);
  await connection.send("/greet");
  setUser(null);
  await connection.send("anonymous now");
  assert.deepEqual(socket.sent("user_uttered"), [
    {
      message: "/greet",
      session_id: OLD,
      customData: { user_id: "demo-user-1", user_expires: 1767225600, user_hash: "ab".repeat(32) },
    },
    { message: "anonymous now", session_id: OLD },
  ]);
});

test("identity_refused and bot_uttered are handed over; junk is ignored", () => {
  const { socket, refusals, log } = connect(OLD);
  socket.server("connect");
  socket.server("identity_refused", { reason: "expired", detail: "the claim expired at 2026-01-01T00:00:00Z" });
  socket.server("identity_refused", { reason: "bad_signature" });
  socket.server("identity_refused", "junk");
  socket.server("identity_refused", { detail: "no reason" });
  socket.server("bot_uttered", { text: "Hello" });
  assert.deepEqual(refusals, [
    { reason: "expired", detail: "the claim expired at 2026-01-01T00:00:00Z" },
    { reason: "bad_signature", detail: "" },
  ]);
  assert.deepEqual(log, ["connecting", "bot:Hello"]);
});
