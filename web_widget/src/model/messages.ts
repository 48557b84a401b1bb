// The transcript the widget shows, as a pure reducer: history first, then live messages;
// customer messages pending until they leave the outbox; quick replies, "was this helpful?"
// and the typing indicator as state of the messages.

import type { HistoryLine, Role } from "../api/history.ts";
import type { OutboxItem } from "../outbox.ts";
import { type BotMessage, isFeedbackPayload, type QuickReply } from "../transport/protocol.ts";

export type Vote = "helpful" | "not_helpful";

export interface ChatMessage {
  id: string;
  role: Role;
  text: string;
  agentName?: string;
  /** A handoff notice of the bridge ("agent_joined", "back_in_queue") and the agent named. */
  notice?: { event: string; agent: string | null };
  /** Customer message still in the outbox. */
  pending?: boolean;
  quickReplies?: QuickReply[];
  /** A knowledge answer that offers "was this helpful?" (`vote` once the customer answered). */
  kb?: { entryId: string; vote: Vote | null };
  fromHistory?: boolean;
}

export interface ChatState {
  messages: ChatMessage[];
  /** Increments each time the typing indicator (re)starts; 0 while it is off. */
  typing: number;
}

/** Quick replies of the last bot message, kept across a reload (history has no buttons). */
export interface SavedReplies {
  text: string;
  replies: QuickReply[];
}

/** The customer's votes on knowledge answers by entry id, kept across a reload. */
export type Votes = Record<string, Vote>;

/** What this browser remembers to show the history as it was shown live. */
export interface Remembered {
  /** Quick replies of the last bot message (the history has no buttons). */
  replies: SavedReplies | null;
  /** Votes on knowledge answers by entry id (the history has no votes). */
  votes: Votes;
  /** Titles of the quick replies clicked, by payload (the history has the payload). */
  titles: Record<string, string>;
}

export const nothingRemembered: Remembered = { replies: null, votes: {}, titles: {} };

export type ChatAction =
  | { type: "history"; lines: HistoryLine[]; remembered: Remembered }
  | { type: "bot"; id: string; message: BotMessage }
  | { type: "queued"; item: OutboxItem; pending: boolean }
  | { type: "sent"; item: OutboxItem }
  | { type: "outbox"; items: OutboxItem[] }
  | { type: "replied"; messageId: string }
  | { type: "voted"; messageId: string; vote: Vote }
  | { type: "typingTimeout" }
  /** The server confirmed another session token than the one asked for. */
  | { type: "newConversation" }
  | { type: "reset" };

export const initialChat: ChatState = { messages: [], typing: 0 };

/** A history line as it was shown live, or null for a vote (sent without a bubble). */
export function fromHistory(line: HistoryLine, remembered: Remembered = nothingRemembered): ChatMessage | null {
  if (line.role === "customer" && isFeedbackPayload(line.text)) return null;
  const text = line.role === "customer" ? (remembered.titles[line.text.trim()] ?? line.text) : line.text;
  const message: ChatMessage = { id: line.id, role: line.role, text, fromHistory: true };
  if (line.agentName && line.role === "agent") message.agentName = line.agentName;
  // The bridge keeps the entry id of knowledge answers only: they get "was this helpful?"
  // again, or the thank-you if this browser already voted on that entry.
  if (line.kbEntryId && line.role === "bot") {
    message.kb = { entryId: line.kbEntryId, vote: remembered.votes[line.kbEntryId] ?? null };
  }
  return message;
}

/** Rasa splits a long answer at blank lines into several messages with the same metadata. */
const samePart = (earlier: ChatMessage | undefined, later: ChatMessage): boolean =>
  !!earlier?.kb && !!later.kb && earlier.kb.entryId === later.kb.entryId && earlier.kb.vote === later.kb.vote;

export function fromBot(id: string, bot: BotMessage): ChatMessage {
  const { metadata } = bot;
  if (metadata.handoff) {
    // The bridge words its notices in the conversation's language ("李娜 joined …", "back in
    // the queue, number 2") and stores them so, as system lines: shown as sent.
    return { id, role: "system", text: bot.text, notice: { ...metadata.handoff } };
  }
  const message: ChatMessage = metadata.agentName
    ? { id, role: "agent", text: bot.text, agentName: metadata.agentName }
    : { id, role: "bot", text: bot.text };
  if (bot.quickReplies.length) message.quickReplies = bot.quickReplies;
  const answered = metadata.kbDecision === "answer" || metadata.kbDecision === "chosen";
  if (message.role === "bot" && answered && metadata.kbEntryId) {
    message.kb = { entryId: metadata.kbEntryId, vote: null };
  }
  return message;
}

function fromOutbox(item: OutboxItem & { text: string }, pending: boolean): ChatMessage {
  return { id: item.id, role: "customer", text: item.text, pending };
}

const withoutReplies = (m: ChatMessage): ChatMessage =>
  m.quickReplies ? { ...m, quickReplies: undefined } : m;

function update(state: ChatState, id: string, change: (m: ChatMessage) => ChatMessage): ChatState {
  return { ...state, messages: state.messages.map((m) => (m.id === id ? change(m) : m)) };
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case "history": {
      const known = new Set(state.messages.map((m) => m.id));
      const { remembered } = action;
      const past = action.lines
        .filter((l) => !known.has(l.id))
        .map((l) => fromHistory(l, remembered))
        .filter((m): m is ChatMessage => m !== null);
      for (let i = 0; i < past.length - 1; i++) {
        if (samePart(past[i], past[i + 1])) past[i] = { ...past[i], kb: undefined };
      }
      const last = past[past.length - 1];
      if (last && remembered.replies && last.role === "bot" && last.text === remembered.replies.text) {
        past[past.length - 1] = { ...last, quickReplies: remembered.replies.replies };
      }
      return { ...state, messages: [...past, ...state.messages] };
    }
    case "bot": {
      const incoming = fromBot(action.id, action.message);
      let messages = state.messages;
      // Customer messages not yet sent wait at the bottom: they reach Rasa after this reply
      // (the outbox sends the next message once the previous one is handled), so the live
      // order is the order the history will show after a reload.
      let at = messages.findIndex((m) => m.pending);
      if (at < 0) at = messages.length;
      const previous = messages[at - 1];
      // Offer "was this helpful?" once, under the last part of a split answer.
      if (previous && samePart(previous, incoming)) {
        messages = [...messages.slice(0, at - 1), { ...previous, kb: undefined }, ...messages.slice(at)];
      }
      return { messages: [...messages.slice(0, at), incoming, ...messages.slice(at)], typing: 0 };
    }
    case "queued": {
      const { item } = action;
      if (item.text === null || state.messages.some((m) => m.id === item.id)) return state;
      // The customer moved on: earlier buttons would send stale answers.
      const messages = state.messages.map(withoutReplies);
      return { ...state, messages: [...messages, fromOutbox({ ...item, text: item.text }, action.pending)] };
    }
    case "sent": {
      if (action.item.text === null) return state;
      const next = update(state, action.item.id, (m) => ({ ...m, pending: false }));
      return { ...next, typing: state.typing + 1 };
    }
    case "outbox": {
      // Another tab changed the shared queue: show its new messages as pending, and the
      // ones that left it as sent.
      const queued = new Set(action.items.map((i) => i.id));
      let next: ChatState = {
        ...state,
        messages: state.messages.map((m) => (m.pending && !queued.has(m.id) ? { ...m, pending: false } : m)),
      };
      for (const item of action.items) next = chatReducer(next, { type: "queued", item, pending: true });
      return next;
    }
    case "replied":
      return update(state, action.messageId, withoutReplies);
    case "voted":
      return update(state, action.messageId, (m) => (m.kb ? { ...m, kb: { ...m.kb, vote: action.vote } } : m));
    case "typingTimeout":
      return state.typing ? { ...state, typing: 0 } : state;
    case "newConversation":
      // The old conversation (its history and what was said live) must not stay on screen as
      // if it were this one; customer messages still queued are kept: they go to the new one.
      return { messages: state.messages.filter((m) => m.pending), typing: 0 };
    case "reset":
      return initialChat;
  }
}
