// What goes over Rasa's socket.io channel (web_widget/CONTRACT.md), as pure functions: the
// payloads the widget emits and a defensive reading of the `bot_uttered` ones it receives.

import type { SignedUser } from "../config.ts";
import { isSessionToken } from "../session.ts";

export const EVENTS = {
  sessionRequest: "session_request",
  sessionConfirm: "session_confirm",
  userUttered: "user_uttered",
  botUttered: "bot_uttered",
  identityRefused: "identity_refused",
} as const;

export interface QuickReply {
  title: string;
  payload: string;
}

// CONTRACT.md lists answer / clarify / none; the KB action also sends "chosen" for the answer
// to a "did you mean" choice the customer picked, which is a knowledge answer too.
export type KbDecision = "answer" | "chosen" | "clarify" | "none";
const KB_DECISIONS: ReadonlySet<unknown> = new Set(["answer", "chosen", "clarify", "none"]);

export interface BotMetadata {
  kbEntryId?: string;
  kbDecision?: KbDecision;
  agentName?: string;
  handoff?: { event: string; agent: string | null };
}

export interface BotMessage {
  text: string;
  quickReplies: QuickReply[];
  metadata: BotMetadata;
}

export interface UserUttered {
  message: string;
  session_id: string;
  customData?: { user_id: string; user_expires: number; user_hash: string };
}

/** Ask for a session: the stored token, or null for a new conversation. */
export function sessionRequest(token: string | null): { session_id: string | null } {
  return { session_id: token };
}

/** A customer message in the confirmed session, with the signed user's claim if there is one. */
export function userUttered(message: string, token: string, user: SignedUser | null): UserUttered {
  const body: UserUttered = { message, session_id: token };
  if (user) body.customData = { user_id: user.id, user_expires: user.expires, user_hash: user.hash };
  return body;
}

/**
 * The token the server confirmed (`session_confirm` carries it as a string, or as
 * `{"session_id": token}`); null when it is not a plausible token.
 */
export function confirmedSession(data: unknown): string | null {
  const token = data && typeof data === "object" ? (data as { session_id?: unknown }).session_id : data;
  return isSessionToken(token) ? token : null;
}

export type RefusalReason = "expired" | "bad_signature" | "expiry_too_far" | "incomplete";

/** The server did not accept the signed user of a message (it answered it anonymously). */
export interface IdentityRefusal {
  /** One of {@link RefusalReason} today; kept as sent so a new reason still reaches the page. */
  reason: string;
  /** English text for the shop's developer. */
  detail: string;
}

/** An `identity_refused` payload `{"reason", "detail"}`, or null when it has no reason. */
export function parseIdentityRefused(data: unknown): IdentityRefusal | null {
  if (!data || typeof data !== "object") return null;
  const { reason, detail } = data as Record<string, unknown>;
  if (typeof reason !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(reason)) return null;
  return { reason, detail: typeof detail === "string" ? detail.slice(0, 1000) : "" };
}

const str = (value: unknown): string | undefined => (typeof value === "string" && value ? value : undefined);

function metadataOf(raw: unknown): BotMetadata {
  if (!raw || typeof raw !== "object") return {};
  const m = raw as Record<string, unknown>;
  const metadata: BotMetadata = {};
  const entry = str(m.kb_entry_id);
  if (entry) metadata.kbEntryId = entry;
  if (KB_DECISIONS.has(m.kb_decision)) metadata.kbDecision = m.kb_decision as KbDecision;
  const agent = m.agent as Record<string, unknown> | undefined;
  const agentName = agent && typeof agent === "object" ? str(agent.name) : undefined;
  if (agentName) metadata.agentName = agentName;
  const handoff = m.handoff as Record<string, unknown> | undefined;
  const event = handoff && typeof handoff === "object" ? str(handoff.event) : undefined;
  if (handoff && event) metadata.handoff = { event, agent: str(handoff.agent) ?? null };
  return metadata;
}

/** A `bot_uttered` payload, or null when it has nothing the widget can show. */
export function parseBotUttered(data: unknown): BotMessage | null {
  if (!data || typeof data !== "object") return null;
  const d = data as Record<string, unknown>;
  const text = typeof d.text === "string" ? d.text : "";
  const quickReplies: QuickReply[] = [];
  if (Array.isArray(d.quick_replies)) {
    for (const reply of d.quick_replies) {
      const r = reply as Record<string, unknown>;
      const title = r && typeof r === "object" ? str(r.title) : undefined;
      const payload = r && typeof r === "object" ? (str(r.payload) ?? title) : undefined;
      if (title && payload) quickReplies.push({ title, payload });
    }
  }
  const metadata = metadataOf(d.metadata);
  if (!text.trim() && !quickReplies.length && !metadata.handoff) return null;
  // An agent's reply comes signed ("李娜：…") for clients that ignore metadata; the widget
  // shows the name itself, so it takes the words alone.
  const agent = (d.metadata as Record<string, unknown> | undefined)?.agent as Record<string, unknown> | undefined;
  const words = metadata.agentName && agent && typeof agent === "object" ? str(agent.text) : undefined;
  return { text: words ?? text, quickReplies, metadata };
}

/** The payload a 👍 / 👎 on a knowledge answer sends (silently). */
export function feedbackPayload(vote: "helpful" | "not_helpful", kbEntryId: string): string {
  return `/kb_${vote}${JSON.stringify({ kb_entry: kbEntryId })}`;
}

/** True for a feedback payload (Rasa, and so the history, keep it as the customer's text). */
export function isFeedbackPayload(text: string): boolean {
  return /^\/kb_(?:not_)?helpful\{/.test(text.trim());
}

const RATING = /^\/rate\{"rating":"([1-5])"\}$/;

/**
 * When the quick replies are the CSAT rating (`/rate{"rating":"1"}` … `"5"`, five of them),
 * the score of each, in order; otherwise null.
 */
export function ratingScores(replies: QuickReply[]): number[] | null {
  if (replies.length !== 5) return null;
  const scores = replies.map((r) => RATING.exec(r.payload.replace(/\s+/g, "")));
  if (scores.some((m) => m === null)) return null;
  const values = scores.map((m) => Number(m![1]));
  return new Set(values).size === 5 ? values : null;
}
