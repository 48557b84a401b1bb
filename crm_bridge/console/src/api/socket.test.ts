import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { authFrame, backoffDelay, ConsoleSocket, type ConnectionState, POLICY_VIOLATION } from "./socket.ts";

/** A WebSocket stand-in: records what the console sends; the test plays the bridge. */
class FakeSocket {
  static readonly OPEN = 1;
  static opened: FakeSocket[] = [];
  readonly url: string;
  readyState = 0;
  sent: string[] = [];
  closedWith: number | undefined;
  onopen: (() => void) | null = null;
  onmessage: ((message: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;

  constructor(url: string) {
    this.url = url;
    FakeSocket.opened.push(this);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(code?: number): void {
    this.closedWith = code;
  }
  // the bridge's side
  open(): void {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }
  push(event: unknown): void {
    this.onmessage?.({ data: JSON.stringify(event) });
  }
  shut(code: number): void {
    this.onclose?.({ code });
  }
}

const globals = globalThis as Record<string, unknown>;

beforeEach(() => {
  FakeSocket.opened = [];
  globals.WebSocket = FakeSocket;
  globals.window = { addEventListener: () => undefined, removeEventListener: () => undefined };
});

afterEach(() => {
  delete globals.WebSocket;
  delete globals.window;
});

function makeConsole(token: () => string | null) {
  const states: ConnectionState[] = [];
  const seen = { events: [] as unknown[], rejected: 0, reconnected: 0 };
  const socket = new ConsoleSocket({
    url: () => "ws://bridge/api/v1/console/ws",
    token,
    onEvent: (event) => seen.events.push(event),
    onState: (state) => states.push(state),
    onReconnect: () => (seen.reconnected += 1),
    onAuthRejected: () => (seen.rejected += 1),
  });
  return { socket, states, seen };
}

test("the first frame is the token; the URL has none", () => {
  assert.equal(authFrame("abc"), '{"type":"auth","token":"abc"}');
  const { socket, states } = makeConsole(() => "the-token");
  socket.start();
  const ws = FakeSocket.opened[0];
  assert.equal(ws.url, "ws://bridge/api/v1/console/ws");
  ws.open();
  assert.deepEqual(ws.sent, [authFrame("the-token")]);
  assert.deepEqual(states, ["connecting"]); // not live until the bridge accepted the token
  ws.push({ type: "queue", data: [] });
  assert.deepEqual(states, ["connecting", "online"]);
  socket.stop();
});

test("a 1008 close (token refused, session ended) asks for a renewal, then retries", () => {
  const { socket, states, seen } = makeConsole(() => "expired");
  socket.start();
  const ws = FakeSocket.opened[0];
  ws.open();
  ws.shut(POLICY_VIOLATION);
  assert.equal(seen.rejected, 1);
  assert.equal(states.at(-1), "reconnecting"); // and a retry is planned
  socket.stop();
});

test("without a token the socket does not even send a frame", () => {
  const { socket, seen } = makeConsole(() => null);
  socket.start();
  const ws = FakeSocket.opened[0];
  ws.open();
  assert.deepEqual(ws.sent, []);
  assert.equal(seen.rejected, 1); // renew first

  socket.stop();
});

test("backoff: 1 s, 2 s, 4 s … 30 s, half of it random", () => {
  assert.equal(backoffDelay(0, () => 0), 500);
  assert.equal(backoffDelay(0, () => 1), 1000);
  assert.equal(backoffDelay(3, () => 1), 8000);
  assert.equal(backoffDelay(20, () => 1), 30_000);
});
