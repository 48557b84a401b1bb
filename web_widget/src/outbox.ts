// Customer messages waiting to be sent, persisted in localStorage (`csa:<siteId>:outbox`), so a
// message typed while offline survives a reload and is sent once, in order, when the socket is
// back. Every customer message goes through here, online or not.
//
// Sending takes an item off the stored queue *before* it is emitted (at most once: a message
// is never sent twice, even if the tab dies mid-send), and waits for Rasa's acknowledgement
// before the next one (Rasa acknowledges after handling a message, so order is kept). Tabs of
// one site share the queue: a Web Lock makes one tab at a time drain it.

import type { SiteStore } from "./storage.ts";

export const OUTBOX_KEY = "outbox";
const MAX_ITEMS = 50;

export interface OutboxItem {
  id: string;
  /** What Rasa receives: the customer's text or a `/payload`. */
  message: string;
  /** What the customer's bubble shows; null: sent silently (feedback votes). */
  text: string | null;
  /** Epoch milliseconds when the customer sent it. */
  at: number;
}

function isItem(value: unknown): value is OutboxItem {
  const item = value as OutboxItem;
  return (
    !!item &&
    typeof item === "object" &&
    typeof item.id === "string" &&
    typeof item.message === "string" &&
    (item.text === null || typeof item.text === "string") &&
    typeof item.at === "number"
  );
}

/** The queue stored as JSON (anything else counts as empty). */
export function parseOutbox(raw: string | null): OutboxItem[] {
  if (!raw) return [];
  try {
    const value: unknown = JSON.parse(raw);
    return Array.isArray(value) ? value.filter(isItem) : [];
  } catch {
    return [];
  }
}

/** Runs `task` holding the named lock across tabs when the browser has Web Locks. */
export type LockRunner = (name: string, task: () => Promise<void>) => Promise<void>;

export const webLocks: LockRunner = (name, task) => {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  return locks ? locks.request(name, task) : task();
};

export interface Drain {
  /** True while a message can be emitted (socket connected, session confirmed). */
  canSend(): boolean;
  /** Emit one item; resolves on Rasa's acknowledgement, a timeout, or a disconnect. */
  send(item: OutboxItem): Promise<void>;
  /** The item has left the queue for the socket. */
  onSent(item: OutboxItem): void;
}

export class Outbox {
  private draining = false;
  private again = false;

  constructor(
    private readonly store: SiteStore,
    private readonly lock: LockRunner = webLocks,
  ) {}

  get storageKey(): string {
    return this.store.key(OUTBOX_KEY);
  }

  items(): OutboxItem[] {
    return parseOutbox(this.store.get(OUTBOX_KEY));
  }

  private save(items: OutboxItem[]): void {
    if (items.length) this.store.setJSON(OUTBOX_KEY, items);
    else this.store.remove(OUTBOX_KEY);
  }

  /** Queue an item (the oldest are dropped beyond 50, which no real customer reaches). */
  push(item: OutboxItem): void {
    this.save([...this.items(), item].slice(-MAX_ITEMS));
  }

  clear(): void {
    this.save([]);
  }

  /** Send what is queued, oldest first, while `drain.canSend()`. Re-entrant calls coalesce. */
  async flush(drain: Drain): Promise<void> {
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = true;
    try {
      do {
        this.again = false;
        await this.lock(this.storageKey, async () => {
          while (drain.canSend()) {
            const [first, ...rest] = this.items();
            if (!first) break;
            this.save(rest);
            drain.onSent(first);
            await drain.send(first);
          }
        });
      } while (this.again && drain.canSend());
    } finally {
      this.draining = false;
    }
  }
}
