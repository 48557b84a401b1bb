// The widget's session token, issued by the server (Rasa's socket.io channel answers
// `session_request` with it) and kept in localStorage under `csa:<siteId>:session`, so reloads
// and new tabs continue one conversation. The browser never invents it. The token is opaque:
// today `w_<32 hex>.<HMAC>` (conversation id, then the server's signature); the widget only
// checks that it is a short string of safe characters, so it can go into a header.
// A `w_<32 hex>` from the previous build is sent like any token: the server answers with a new one.

import type { SiteStore } from "./storage.ts";

export const SESSION_KEY = "session";
const SESSION_TOKEN = /^[A-Za-z0-9_.-]{1,200}$/;

type RandomFill = (bytes: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>;

const cryptoFill: RandomFill = (bytes) => crypto.getRandomValues(bytes);

/** Random hex (ids of queued messages; not the session, which the server issues). */
export function randomHex(bytes: number, fill: RandomFill = cryptoFill): string {
  return Array.from(fill(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A plausible session token: at most 200 of A-Z a-z 0-9 _ . - */
export function isSessionToken(value: unknown): value is string {
  return typeof value === "string" && SESSION_TOKEN.test(value);
}

/** The stored session token, or null (none yet, or not a token). */
export function storedSession(store: SiteStore): string | null {
  const value = store.get(SESSION_KEY);
  return isSessionToken(value) ? value : null;
}

/** Keep the token the server confirmed. */
export function storeSession(store: SiteStore, token: string): void {
  if (!isSessionToken(token)) throw new TypeError("not a session token");
  store.set(SESSION_KEY, token);
}

/** What the browser remembers about the conversation beside the token (see useChat). */
export const REPLIES_KEY = "replies";
export const VOTES_KEY = "votes";
export const TITLES_KEY = "titles";

/**
 * The server confirmed a token other than the one asked for: a new conversation. Keep its
 * token and forget what belonged to the old one (the last quick replies, the votes); the titles
 * of clicked buttons (payload → title) stay true for any conversation.
 */
export function startConversation(store: SiteStore, token: string): void {
  storeSession(store, token);
  store.remove(REPLIES_KEY);
  store.remove(VOTES_KEY);
}
