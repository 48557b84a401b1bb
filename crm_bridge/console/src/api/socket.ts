// The console WebSocket: authenticates with its first frame, reconnects with exponential
// backoff and keeps the line alive.
import type { ServerEvent } from "./types";

export type ConnectionState = "connecting" | "online" | "reconnecting";

export interface SocketHandlers {
  url: () => string;
  /** The access token sent in the first frame (never in the URL); null: not logged in. */
  token: () => string | null;
  onEvent: (event: ServerEvent) => void;
  onState: (state: ConnectionState, retryInMs: number | null) => void;
  /** The connection is back after a loss: refetch what may have been missed. */
  onReconnect: () => void;
  /** The connection was lost (e.g. to check whether the session expired). */
  onDisconnect?: () => void;
  /**
   * The bridge closed the socket for its credentials (1008: token refused, or the session
   * ended): renew the token, or find out that the session is over. The socket retries after
   * its usual backoff either way (it is stopped when the console logs out).
   */
  onAuthRejected?: () => void;
}

/** Close code of a refused or ended log-in (RFC 6455 "policy violation"). */
export const POLICY_VIOLATION = 1008;

/** The first frame the console sends on its socket: the access token. */
export function authFrame(token: string): string {
  return JSON.stringify({ type: "auth", token });
}

export const PING_INTERVAL_MS = 20_000;
/** No frame at all for this long: the connection is dead even if the socket says otherwise. */
export const SILENCE_LIMIT_MS = 50_000;

/** Delay before retry number `attempt` (0-based): 1 s, 2 s, 4 s … up to 30 s, half of it random. */
export function backoffDelay(
  attempt: number,
  random: () => number = Math.random,
  baseMs = 1000,
  maxMs = 30_000,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function isServerEvent(value: unknown): value is ServerEvent {
  return !!value && typeof value === "object" && typeof (value as { type?: unknown }).type === "string";
}

export class ConsoleSocket {
  private readonly handlers: SocketHandlers;
  private ws: WebSocket | null = null;
  private attempt = 0;
  private everOpened = false;
  private stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastFrameAt = 0;
  private readonly retryNow = () => {
    if (this.ws === null && !this.stopped) {
      this.clearRetry();
      this.open();
    }
  };

  constructor(handlers: SocketHandlers) {
    this.handlers = handlers;
  }

  start(): void {
    this.stopped = false;
    window.addEventListener("online", this.retryNow);
    this.open();
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener("online", this.retryNow);
    this.clearRetry();
    this.detach(1000);
  }

  private open(): void {
    this.handlers.onState(this.everOpened ? "reconnecting" : "connecting", null);
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.handlers.url());
    } catch {
      this.lost();
      return;
    }
    this.ws = ws;
    let authenticated = false;
    ws.onopen = () => {
      const token = this.handlers.token();
      if (!token) {
        this.lost(POLICY_VIOLATION);
        return;
      }
      ws.send(authFrame(token));
      this.lastFrameAt = Date.now();
      this.startPing();
    };
    ws.onmessage = (message: MessageEvent) => {
      this.lastFrameAt = Date.now();
      if (!authenticated) {
        // The bridge answers a good auth frame with the queue: the connection is up.
        authenticated = true;
        const reconnected = this.everOpened;
        this.everOpened = true;
        this.attempt = 0;
        this.handlers.onState("online", null);
        if (reconnected) this.handlers.onReconnect();
      }
      if (typeof message.data !== "string") return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(message.data);
      } catch {
        return;
      }
      if (isServerEvent(parsed) && parsed.type !== "pong") this.handlers.onEvent(parsed);
    };
    ws.onclose = (event: CloseEvent) => {
      if (this.ws === ws) this.lost(event.code);
    };
  }

  private lost(code?: number): void {
    this.detach();
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.handlers.onState("reconnecting", delay);
    if (code === POLICY_VIOLATION && this.handlers.onAuthRejected) this.handlers.onAuthRejected();
    else this.handlers.onDisconnect?.();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  /** Forget the current socket (its late events are ignored) and close it. */
  private detach(code?: number): void {
    this.stopPing();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(code);
      } catch {
        /* already closed */
      }
    }
  }

  private startPing(): void {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws) return;
      if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
        this.lost();
        return;
      }
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
    }, PING_INTERVAL_MS);
  }

  private stopPing(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
