// All the widget's state and what changes it: session, history, the socket, the outbox,
// unread count, typing indicator. Components only render what this returns.

import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "preact/hooks";

import { fetchHistory } from "../api/history.ts";
import type { SignedUser, WidgetConfig } from "../config.ts";
import { IdentityRefusals } from "../identity.ts";
import { chatReducer, initialChat, type Remembered, type SavedReplies, type Vote, type Votes } from "../model/messages.ts";
import { type Drain, Outbox, type OutboxItem, parseOutbox } from "../outbox.ts";
import {
  randomHex,
  REPLIES_KEY,
  SESSION_KEY,
  startConversation,
  storedSession,
  TITLES_KEY,
  VOTES_KEY,
} from "../session.ts";
import type { SiteStore } from "../storage.ts";
import { type BotMessage, feedbackPayload, type QuickReply } from "../transport/protocol.ts";
import { type ConnectionState, connectRasa, type RasaConnection } from "../transport/socket.ts";

export const TYPING_TIMEOUT_MS = 10_000;

function savedReplies(store: SiteStore): SavedReplies | null {
  const value = store.getJSON(REPLIES_KEY) as SavedReplies | null;
  return value && typeof value.text === "string" && Array.isArray(value.replies) ? value : null;
}

function remembered(store: SiteStore): Remembered {
  return { replies: savedReplies(store), votes: store.getMap(VOTES_KEY) as Votes, titles: store.getMap(TITLES_KEY) };
}

/**
 * @param config the checked configuration.
 * @param local the site's localStorage (shared by its tabs, kept across reloads).
 */
export function useChat(config: WidgetConfig, local: SiteStore) {
  const [chat, dispatch] = useReducer(chatReducer, initialChat);
  const [open, setOpenState] = useState(false);
  const [connection, setConnection] = useState<ConnectionState | "idle">("idle");
  const [unread, setUnread] = useState(0);
  const [historyFailed, setHistoryFailed] = useState(false);
  // The connection's run: null while there is none. A visitor with a stored session token
  // connects at once (agent replies raise the unread badge); a first-time visitor only when
  // opening the chat or sending, so idle page views cost Rasa nothing. Incremented to start
  // over (reset, or another tab moved to another conversation).
  const [run, setRun] = useState<number | null>(() => (storedSession(local) ? 0 : null));
  // The token this tab uses: the stored one at the start of a run, then the confirmed one.
  const token$ = useRef<string | null>(null);
  // The signed user for the next messages (`CSAWidget.setUser` replaces it).
  const user$ = useRef<SignedUser | null>(config.user);
  const refusals = useMemo(() => new IdentityRefusals(), []);
  const outbox = useMemo(() => new Outbox(local), [local]);
  const connection$ = useRef<RasaConnection | null>(null);
  const open$ = useRef(open);
  open$.current = open;
  const botCount = useRef(0);

  const drain = useMemo<Drain>(
    () => ({
      canSend: () => !!connection$.current?.ready(),
      send: (item) => connection$.current?.send(item.message) ?? Promise.resolve(),
      onSent: (item) => dispatch({ type: "sent", item }),
    }),
    [],
  );
  const flush = useCallback(() => void outbox.flush(drain), [outbox, drain]);

  const start = useCallback(() => setRun((n) => n ?? 0), []);
  useEffect(() => {
    if (open) start();
  }, [open, start]);

  useEffect(() => {
    if (run === null) return;
    let active = true;
    const token = storedSession(local);
    token$.current = token;
    for (const item of outbox.items()) dispatch({ type: "queued", item, pending: true });
    setConnection("connecting");
    const onBotMessage = (message: BotMessage) => {
      botCount.current += 1;
      dispatch({ type: "bot", id: `b-${botCount.current}`, message });
      if (message.quickReplies.length) local.setJSON(REPLIES_KEY, { text: message.text, replies: message.quickReplies });
      else local.remove(REPLIES_KEY);
      if (!open$.current) setUnread((n) => n + 1);
    };
    // A new conversation: what is shown of the old one goes; queued messages stay (they are
    // sent in the new one).
    const onSession = (confirmed: string, isNew: boolean) => {
      token$.current = confirmed;
      if (!isNew) return;
      startConversation(local, confirmed);
      dispatch({ type: "newConversation" });
      setHistoryFailed(false);
    };
    // History first, then the socket (CONTRACT.md): live messages append to what was said.
    // Without a token there is no history (the server issues the token on the socket).
    const history = token
      ? fetchHistory(config.bridgeUrl, token).then(
          (lines) => active && dispatch({ type: "history", lines, remembered: remembered(local) }),
          () => active && setHistoryFailed(true),
        )
      : Promise.resolve();
    history.then(() => {
      if (!active) return;
      connection$.current = connectRasa({
        url: config.rasaUrl,
        token,
        user: () => user$.current,
        onState: (state) => active && setConnection(state),
        onBotMessage: (message) => active && onBotMessage(message),
        onSession: (confirmed, isNew) => active && onSession(confirmed, isNew),
        onReady: flush,
        onIdentityRefused: (refusal) => active && refusals.report(refusal),
      });
    });
    return () => {
      active = false;
      connection$.current?.close();
      connection$.current = null;
    };
  }, [run, config, local, outbox, flush, refusals]);

  // Other tabs of the site share the session and the outbox.
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key === outbox.storageKey && run !== null) {
        const items = parseOutbox(event.newValue);
        dispatch({ type: "outbox", items });
        // An offline tab's messages go out through this one if it is connected; only with
        // Web Locks, which keep two tabs from sending the same message.
        if (items.length && typeof navigator.locks !== "undefined") flush();
      } else if (event.key === local.key(SESSION_KEY)) {
        const stored = storedSession(local);
        if (stored === token$.current) return;
        // Another tab started over, or the server gave it a new conversation: follow it.
        dispatch({ type: "reset" });
        setHistoryFailed(false);
        token$.current = stored;
        setRun((n) => (stored === null && !open$.current ? null : (n ?? 0) + 1));
      }
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, [outbox, local, run, flush]);

  useEffect(() => {
    if (!chat.typing) return;
    const timer = setTimeout(() => dispatch({ type: "typingTimeout" }), TYPING_TIMEOUT_MS);
    return () => clearTimeout(timer);
  }, [chat.typing]);

  const setOpen = useCallback((value: boolean) => {
    setOpenState(value);
    if (value) setUnread(0);
  }, []);

  /** Queue a message (shown as the customer's bubble unless `bubble` is null) and send it. */
  const say = useCallback(
    (message: string, bubble: string | null) => {
      const item: OutboxItem = { id: `c-${randomHex(8)}`, message, text: bubble, at: Date.now() };
      outbox.push(item);
      if (bubble !== null) local.remove(REPLIES_KEY);
      dispatch({ type: "queued", item, pending: true }); // until it leaves the outbox
      start();
      flush();
    },
    [outbox, local, flush, start],
  );

  const send = useCallback((text: string) => say(text, text), [say]);

  const reply = useCallback(
    (messageId: string, quickReply: QuickReply) => {
      dispatch({ type: "replied", messageId });
      local.remember(TITLES_KEY, quickReply.payload.trim(), quickReply.title);
      say(quickReply.payload, quickReply.title);
    },
    [say, local],
  );

  const vote = useCallback(
    (messageId: string, kbEntryId: string, value: Vote) => {
      dispatch({ type: "voted", messageId, vote: value });
      local.remember(VOTES_KEY, kbEntryId, value);
      say(feedbackPayload(value, kbEntryId), null);
    },
    [say, local],
  );

  /** The signed user for the next messages (null: anonymous from now on). */
  const setUser = useCallback(
    (user: SignedUser | null) => {
      user$.current = user;
      refusals.forget();
    },
    [refusals],
  );

  /** Forget the conversation on this site (all tabs): a new session from the next message. */
  const reset = useCallback(() => {
    outbox.clear();
    local.remove(REPLIES_KEY);
    local.remove(VOTES_KEY);
    local.remove(TITLES_KEY);
    local.remove(SESSION_KEY);
    dispatch({ type: "reset" });
    setHistoryFailed(false);
    setUnread(0);
    setConnection("idle");
    token$.current = null;
    // Open: a new session at once (the server issues it); minimised: from the next message.
    setRun((n) => (open$.current ? (n ?? 0) + 1 : null));
  }, [outbox, local]);

  return { chat, open, setOpen, connection, unread, historyFailed, send, reply, vote, reset, setUser };
}

export type Chat = ReturnType<typeof useChat>;
