// The live queue as the server orders it, with the local time each item was received so
// waiting times can tick without asking the server.
import type { QueueItem } from "../api/types";

export interface QueueEntry extends QueueItem {
  /** Date.now() when this copy arrived. */
  receivedAt: number;
}

const LIVE = new Set(["open", "assigned"]);

export function isLive(item: QueueItem): boolean {
  return LIVE.has(item.status);
}

export function isWaiting(item: QueueItem): boolean {
  return item.status === "open";
}

/** The whole queue from the server replaces ours, in the server's order. */
export function receiveQueue(items: readonly QueueItem[], now: number): QueueEntry[] {
  return items.map((item) => ({ ...item, receivedAt: now }));
}

/**
 * One handoff changed: update it where it is; drop it when it is no longer live; append it
 * when new (the next full queue from the server puts it in its place).
 */
export function upsertHandoff(queue: readonly QueueEntry[], item: QueueItem, now: number): QueueEntry[] {
  const entry = { ...item, receivedAt: now };
  const index = queue.findIndex((q) => q.id === item.id);
  if (!isLive(item)) return index < 0 ? (queue as QueueEntry[]) : queue.filter((q) => q.id !== item.id);
  if (index < 0) return [...queue, entry];
  const next = queue.slice();
  next[index] = entry;
  return next;
}

/** Seconds the customer has been waiting at `now` (ticks only while waiting). */
export function waitingSeconds(entry: QueueEntry, now: number): number {
  const base = Math.max(0, entry.waiting_seconds || 0);
  if (!isWaiting(entry)) return base;
  return base + Math.max(0, now - entry.receivedAt) / 1000;
}

/** The waiting handoff that has waited longest (for Alt+A), or null. */
export function oldestWaiting(queue: readonly QueueEntry[], now: number): QueueEntry | null {
  let best: QueueEntry | null = null;
  for (const entry of queue) {
    if (!isWaiting(entry)) continue;
    if (!best || waitingSeconds(entry, now) > waitingSeconds(best, now)) best = entry;
  }
  return best;
}
