// The widget's conversation id: `w_` + 32 random hex characters (crypto), kept in localStorage
// under `csa:<siteId>:session` so reloads and new tabs continue one conversation.

import type { SiteStore } from "./storage.ts";

export const SESSION_KEY = "session";
const SESSION_ID = /^w_[0-9a-f]{32}$/;

type RandomFill = (bytes: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>;

const cryptoFill: RandomFill = (bytes) => crypto.getRandomValues(bytes);

export function randomHex(bytes: number, fill: RandomFill = cryptoFill): string {
  return Array.from(fill(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function isSessionId(value: unknown): value is string {
  return typeof value === "string" && SESSION_ID.test(value);
}

export function newSessionId(fill: RandomFill = cryptoFill): string {
  return `w_${randomHex(16, fill)}`;
}

/** The stored session id, or null (none yet, or not one of ours). */
export function storedSession(store: SiteStore): string | null {
  const value = store.get(SESSION_KEY);
  return isSessionId(value) ? value : null;
}

/** The stored session id, created and stored first when there is none. */
export function ensureSession(store: SiteStore, fill: RandomFill = cryptoFill): string {
  const existing = storedSession(store);
  if (existing) return existing;
  const created = newSessionId(fill);
  store.set(SESSION_KEY, created);
  return created;
}
