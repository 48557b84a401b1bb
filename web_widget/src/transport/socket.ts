// The socket.io connection to Rasa: connect over WebSocket, ask for our session on every
// (re)connect (the server issues the token: a new one when ours is missing or not valid),
// report the connection state, hand over bot messages and identity refusals. Reconnection
// with backoff is socket.io's own (1 s doubling to 10 s, ±50 % jitter, forever).

import { io } from "socket.io-client";

import type { SignedUser } from "../config.ts";
import {
  type BotMessage,
  confirmedSession,
  EVENTS,
  type IdentityRefusal,
  parseBotUttered,
  parseIdentityRefused,
  sessionRequest,
  userUttered,
} from "./protocol.ts";

export type ConnectionState = "connecting" | "online" | "reconnecting";

/** How long a sent message waits for Rasa's acknowledgement before the next one goes. */
export const ACK_TIMEOUT_MS = 15_000;

export interface RasaConnectionOptions {
  url: string;
  /** The stored session token, or null: the server issues one. */
  token: string | null;
  /** The signed user to send with the next message (it can change: `CSAWidget.setUser`). */
  user(): SignedUser | null;
  onState(state: ConnectionState): void;
  onBotMessage(message: BotMessage): void;
  /**
   * The server confirmed a session; `isNew` when its token is not the one asked for (none,
   * or one it did not accept): a new conversation. Called before `onReady`.
   */
  onSession(token: string, isNew: boolean): void;
  /** The session is confirmed: messages can be sent. */
  onReady(): void;
  /** The server answered a message anonymously because it refused the signed user. */
  onIdentityRefused(refusal: IdentityRefusal): void;
}

export interface RasaConnection {
  ready(): boolean;
  /** Emit a customer message; resolves on acknowledgement, timeout or disconnect. */
  send(message: string): Promise<void>;
  close(): void;
}

/** What the connection uses of a socket.io client socket (a fake one in the unit tests). */
export interface SocketLike {
  readonly connected: boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  timeout(ms: number): { emit(event: string, ...args: unknown[]): unknown };
  connect(): unknown;
  disconnect(): unknown;
}

export type SocketFactory = (url: string, options: Parameters<typeof io>[1]) => SocketLike;

const socketIo: SocketFactory = (url, options) => io(url, options);

export function connectRasa(options: RasaConnectionOptions, open: SocketFactory = socketIo): RasaConnection {
  const socket = open(options.url, {
    path: "/socket.io",
    // WebSocket first; where a proxy blocks it, HTTP long-polling (CORS: CSA_WIDGET_ORIGINS)
    transports: ["websocket", "polling"],
    tryAllTransports: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 10_000,
    randomizationFactor: 0.5,
    timeout: 10_000,
  });
  let ready = false;
  let closed = false;
  // What the next session_request asks for: the stored token, then the confirmed one.
  let token = options.token;
  const lost = () => {
    ready = false;
    if (!closed) options.onState("reconnecting");
  };

  options.onState("connecting");
  socket.on("connect", () => {
    ready = false;
    socket.emit(EVENTS.sessionRequest, sessionRequest(token));
  });
  socket.on(EVENTS.sessionConfirm, (data: unknown) => {
    const confirmed = confirmedSession(data);
    if (confirmed === null) {
      console.warn("[csa-widget] session_confirm without a usable session token; still offline");
      return;
    }
    const isNew = confirmed !== token;
    token = confirmed;
    ready = true;
    options.onState("online");
    options.onSession(confirmed, isNew);
    options.onReady();
  });
  socket.on(EVENTS.botUttered, (data: unknown) => {
    const message = parseBotUttered(data);
    if (message) options.onBotMessage(message);
  });
  socket.on(EVENTS.identityRefused, (data: unknown) => {
    const refusal = parseIdentityRefused(data);
    if (refusal) options.onIdentityRefused(refusal);
  });
  socket.on("disconnect", (reason) => {
    lost();
    // socket.io does not reconnect by itself after the server closed the session (e.g. a
    // Rasa restart); try again after a pause.
    if (reason === "io server disconnect" && !closed) setTimeout(() => closed || socket.connect(), 2000);
  });
  socket.on("connect_error", lost);

  return {
    ready: () => ready && socket.connected,
    send(message) {
      return new Promise<void>((resolve) => {
        if (token === null) return resolve(); // not reached: the outbox sends only when ready()
        socket
          .timeout(ACK_TIMEOUT_MS)
          .emit(EVENTS.userUttered, userUttered(message, token, options.user()), () => resolve());
      });
    },
    close() {
      closed = true;
      ready = false;
      socket.disconnect();
    },
  };
}
