// The socket.io connection to Rasa: connect over WebSocket, ask for our session on every
// (re)connect, report the connection state, hand over bot messages. Reconnection with
// backoff is socket.io's own (1 s doubling to 10 s, ±50 % jitter, forever).

import { io } from "socket.io-client";

import type { SignedUser } from "../config.ts";
import {
  type BotMessage,
  confirmedSession,
  EVENTS,
  parseBotUttered,
  sessionRequest,
  userUttered,
} from "./protocol.ts";

export type ConnectionState = "connecting" | "online" | "reconnecting";

/** How long a sent message waits for Rasa's acknowledgement before the next one goes. */
export const ACK_TIMEOUT_MS = 15_000;

export interface RasaConnectionOptions {
  url: string;
  sessionId: string;
  user: SignedUser | null;
  onState(state: ConnectionState): void;
  onBotMessage(message: BotMessage): void;
  /** The session is confirmed: messages can be sent. */
  onReady(): void;
}

export interface RasaConnection {
  ready(): boolean;
  /** Emit a customer message; resolves on acknowledgement, timeout or disconnect. */
  send(message: string): Promise<void>;
  close(): void;
}

export function connectRasa(options: RasaConnectionOptions): RasaConnection {
  const socket = io(options.url, {
    path: "/socket.io",
    transports: ["websocket"],
    reconnectionDelay: 1000,
    reconnectionDelayMax: 10_000,
    randomizationFactor: 0.5,
    timeout: 10_000,
  });
  let ready = false;
  let closed = false;
  const lost = () => {
    ready = false;
    if (!closed) options.onState("reconnecting");
  };

  options.onState("connecting");
  socket.on("connect", () => {
    ready = false;
    socket.emit(EVENTS.sessionRequest, sessionRequest(options.sessionId));
  });
  socket.on(EVENTS.sessionConfirm, (data: unknown) => {
    if (confirmedSession(data) !== options.sessionId) return;
    ready = true;
    options.onState("online");
    options.onReady();
  });
  socket.on(EVENTS.botUttered, (data: unknown) => {
    const message = parseBotUttered(data);
    if (message) options.onBotMessage(message);
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
        socket
          .timeout(ACK_TIMEOUT_MS)
          .emit(EVENTS.userUttered, userUttered(message, options.sessionId, options.user), () => resolve());
      });
    },
    close() {
      closed = true;
      ready = false;
      socket.disconnect();
    },
  };
}
