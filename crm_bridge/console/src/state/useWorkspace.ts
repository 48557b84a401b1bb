// Everything the logged-in console knows and can do: queue, open conversation, options,
// the live connection. Components get plain values and callbacks from here.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";

import { ApiError, type ApiClient } from "../api/client";
import { endpoints, socketUrl } from "../api/endpoints";
import { ConsoleSocket, type ConnectionState } from "../api/socket";
import type { AuthSession } from "../auth/session";
import type {
  Agent,
  Availability,
  CloseMode,
  CustomerHit,
  DataList,
  HandoffDetail,
  HandoffOptions,
  KbHit,
  Language,
  QueueItem,
  ServerEvent,
  TranscriptItem,
  TransferTarget,
} from "../api/types";
import { useI18n } from "../i18n";
import { handoffIdFromPath, showHandoffInUrl } from "../route";
import { appendToDraft } from "./draft";
import { oldestWaiting, type QueueEntry, receiveQueue, upsertHandoff } from "./queue";
import { mergeTranscript } from "./transcript";

export interface Connection {
  state: ConnectionState;
  retryInMs: number | null;
}

export interface Notice {
  kind: "error" | "info";
  text: string;
}

/** A reply shown at once, until the server's copy replaces it. */
export interface PendingLine {
  key: string;
  text: string;
  internal: boolean;
}

const SUPERVISORS = new Set(["supervisor", "admin"]);

export function useWorkspace(api: ApiClient, auth: AuthSession) {
  const { t } = useI18n();
  const [me, setMe] = useState<Agent | null>(null);
  const [queue, setQueue] = useState<QueueEntry[]>([]);
  const [openId, setOpenId] = useState<number | null>(() => handoffIdFromPath(window.location.pathname));
  const [details, setDetails] = useState<Record<number, HandoffDetail>>({});
  /** Transcripts by handoff id, merged from REST and WebSocket (each line once). */
  const [transcripts, setTranscripts] = useState<Record<number, TranscriptItem[]>>({});
  const [loadingId, setLoadingId] = useState<number | null>(null);
  const [options, setOptions] = useState<HandoffOptions>({ resolution_codes: [], canned_replies: [] });
  const [targets, setTargets] = useState<TransferTarget[]>([]);
  const [connection, setConnection] = useState<Connection>({ state: "connecting", retryInMs: null });
  const [notice, setNotice] = useState<Notice | null>(null);
  const [unread, setUnread] = useState<Record<number, number>>({});
  const [pending, setPending] = useState<Record<number, PendingLine[]>>({});
  const [drafts, setDrafts] = useState<Record<number, string>>({});
  const [busy, setBusy] = useState(false);

  const openIdRef = useRef(openId);
  openIdRef.current = openId;
  const queueRef = useRef(queue);
  queueRef.current = queue;
  const meRef = useRef(me);
  meRef.current = me;

  const addLines = useCallback((id: number, items: readonly TranscriptItem[], always = false) => {
    setTranscripts((all) => {
      if (!always && !all[id] && id !== openIdRef.current) return all;
      const merged = mergeTranscript(all[id] ?? [], items);
      return merged === all[id] ? all : { ...all, [id]: merged };
    });
  }, []);

  const fail = useCallback(
    (err: unknown) => {
      if (err instanceof ApiError && err.status === 401) return; // the app shows the log-in
      const text =
        err instanceof ApiError
          ? err.status === 0
            ? t("errorNetwork")
            : t("errorGeneric", { detail: err.detail })
          : t("errorGeneric", { detail: String(err) });
      setNotice({ kind: "error", text });
    },
    [t],
  );

  const storeHandoff = useCallback((item: QueueItem) => {
    setDetails((all) => (all[item.id] ? { ...all, [item.id]: { ...all[item.id], handoff: item } } : all));
  }, []);

  const loadDetail = useCallback(
    async (id: number) => {
      setLoadingId(id);
      try {
        const detail = await api.send<HandoffDetail>(endpoints.handoff(id));
        setDetails((all) => ({ ...all, [id]: detail }));
        addLines(id, Array.isArray(detail.transcript) ? detail.transcript : [], true);
      } catch (err) {
        if (openIdRef.current === id && err instanceof ApiError && (err.status === 404 || err.status === 403)) {
          setOpenId(null);
          showHandoffInUrl(null);
        }
        fail(err);
      } finally {
        setLoadingId((current) => (current === id ? null : current));
      }
    },
    [api, fail, addLines],
  );

  const onEvent = useCallback(
    (event: ServerEvent) => {
      const now = Date.now();
      switch (event.type) {
        case "queue":
          setQueue(receiveQueue(Array.isArray(event.data) ? event.data : [], now));
          for (const item of event.data ?? []) storeHandoff(item);
          break;
        case "handoff":
          setQueue((q) => upsertHandoff(q, event.data, now));
          storeHandoff(event.data);
          break;
        case "agent":
          setMe(event.data);
          break;
        case "message": {
          const id = event.handoff_id;
          const item = event.data;
          addLines(id, [item]);
          if (id !== openIdRef.current && item.role === "customer") {
            setUnread((u) => ({ ...u, [id]: (u[id] ?? 0) + 1 }));
          }
          break;
        }
        default:
          break;
      }
    },
    [storeHandoff, addLines],
  );

  // Start-up: who am I, options, queue, then the live connection.
  useEffect(() => {
    api.send<Agent>(endpoints.me()).then(setMe, fail);
    api.send<HandoffOptions>(endpoints.options()).then(
      (o) => setOptions({ resolution_codes: o?.resolution_codes ?? [], canned_replies: o?.canned_replies ?? [] }),
      fail,
    );
    api.send<DataList<TransferTarget>>(endpoints.transferTargets()).then((r) => setTargets(r?.data ?? []), fail);
    api.send<DataList<QueueItem>>(endpoints.queue()).then((r) => setQueue(receiveQueue(r?.data ?? [], Date.now())), fail);
    const socket = new ConsoleSocket({
      url: () => socketUrl(window.location),
      token: () => auth.accessToken,
      onEvent,
      onState: (state, retryInMs) => setConnection({ state, retryInMs }),
      onReconnect: () => {
        if (openIdRef.current !== null) void loadDetail(openIdRef.current);
      },
      // A lost socket may mean an expired session: a REST call finds out (401 -> log-in).
      onDisconnect: () => {
        api.send<Agent>(endpoints.me()).then(setMe, () => undefined);
      },
      // Token refused or session ended (1008): renew, or learn that the session is over
      // (the app then shows the log-in form and this socket stops).
      onAuthRejected: () => {
        void auth.refresh();
      },
    });
    socket.start();
    return () => socket.stop();
  }, [api, auth, onEvent, loadDetail, fail]);

  // The conversation in the URL (reload, back/forward).
  useEffect(() => {
    if (openId !== null) void loadDetail(openId);
    const onPop = () => {
      const id = handoffIdFromPath(window.location.pathname);
      setOpenId(id);
      if (id !== null) void loadDetail(id);
    };
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
    // Only the URL the page was opened with; later changes go through `open`.
  }, []);

  const open = useCallback(
    (id: number | null) => {
      setOpenId(id);
      showHandoffInUrl(id);
      if (id === null) return;
      setUnread((u) => {
        if (!u[id]) return u;
        const next = { ...u };
        delete next[id];
        return next;
      });
      void loadDetail(id);
    },
    [loadDetail],
  );

  const accept = useCallback(
    async (id: number) => {
      setBusy(true);
      try {
        await api.send(endpoints.accept(id));
        open(id);
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) setNotice({ kind: "error", text: t("errorTaken") });
        else fail(err);
      } finally {
        setBusy(false);
      }
    },
    [api, open, fail, t],
  );

  const acceptOldest = useCallback(() => {
    const oldest = oldestWaiting(queueRef.current, Date.now());
    if (oldest) void accept(oldest.id);
  }, [accept]);

  /** Send a reply or an internal note; false when it failed (the draft is kept). */
  const send = useCallback(
    async (id: number, text: string, internal: boolean): Promise<boolean> => {
      const key = `pending-${Date.now()}-${Math.random().toString(36).slice(2)}`;
      setPending((p) => ({ ...p, [id]: [...(p[id] ?? []), { key, text, internal }] }));
      const drop = () => setPending((p) => ({ ...p, [id]: (p[id] ?? []).filter((line) => line.key !== key) }));
      try {
        const item = await api.send<TranscriptItem>(internal ? endpoints.note(id, text) : endpoints.reply(id, text));
        drop();
        if (item && typeof item.id === "string") addLines(id, [item], true);
        return true;
      } catch (err) {
        drop();
        fail(err);
        return false;
      }
    },
    [api, fail, addLines],
  );

  const transfer = useCallback(
    async (id: number, agentId: number) => {
      setBusy(true);
      try {
        await api.send(endpoints.transfer(id, agentId));
        const name = targets.find((a) => a.id === agentId)?.name ?? String(agentId);
        setNotice({ kind: "info", text: t("transferred", { name }) });
        if (meRef.current && SUPERVISORS.has(meRef.current.role)) void loadDetail(id);
        else open(null);
      } catch (err) {
        fail(err);
      } finally {
        setBusy(false);
      }
    },
    [api, targets, t, loadDetail, open, fail],
  );

  const close = useCallback(
    async (id: number, mode: CloseMode, resolutionCode: string | null) => {
      setBusy(true);
      try {
        await api.send(endpoints.close(id, mode, resolutionCode));
        setNotice({ kind: "info", text: t(mode === "resolve" ? "resolved" : "handedBack") });
        void loadDetail(id);
      } catch (err) {
        fail(err);
      } finally {
        setBusy(false);
      }
    },
    [api, t, loadDetail, fail],
  );

  const setAvailability = useCallback(
    async (availability: Availability) => {
      try {
        const agent = await api.send<Agent | null>(endpoints.setAvailability(availability));
        setMe((current) => (agent && typeof agent.id === "number" ? agent : current && { ...current, availability }));
      } catch (err) {
        fail(err);
      }
    },
    [api, fail],
  );

  const refreshTargets = useCallback(() => {
    api.send<DataList<TransferTarget>>(endpoints.transferTargets()).then((r) => setTargets(r?.data ?? []), fail);
  }, [api, fail]);

  const searchKb = useCallback(
    async (q: string, language: Language): Promise<KbHit[] | null> => {
      try {
        const result = await api.send<DataList<KbHit>>(endpoints.kbSearch(q, language));
        return result?.data ?? [];
      } catch (err) {
        fail(err);
        return null;
      }
    },
    [api, fail],
  );

  const findCustomers = useCallback(
    async (q: string): Promise<CustomerHit[] | null> => {
      try {
        const result = await api.send<DataList<CustomerHit>>(endpoints.searchCustomers(q));
        return result?.data ?? [];
      } catch (err) {
        fail(err);
        return null;
      }
    },
    [api, fail],
  );

  const linkCustomer = useCallback(
    async (id: number, customerId: number) => {
      const handoff = details[id]?.handoff;
      if (!handoff?.channel || !handoff.sender_id) return;
      try {
        // Conversations are keyed "<channel>:<sender>"; the chat account is the sender alone.
        const prefix = `${handoff.channel}:`;
        const account = handoff.sender_id.startsWith(prefix)
          ? handoff.sender_id.slice(prefix.length)
          : handoff.sender_id;
        await api.send(endpoints.linkIdentity(customerId, handoff.channel, account));
        await loadDetail(id);
      } catch (err) {
        fail(err);
      }
    },
    [api, details, loadDetail, fail],
  );

  const setDraft = useCallback((id: number, text: string) => setDrafts((d) => ({ ...d, [id]: text })), []);
  const insertIntoDraft = useCallback(
    (id: number, text: string) =>
      setDrafts((d) => ({ ...d, [id]: appendToDraft(d[id] ?? "", text) })),
    [],
  );

  /** Change one's own password; null when done (every session ended), else what went wrong. */
  const changePassword = useCallback(
    async (current: string, next: string): Promise<ApiError | null> => {
      try {
        await api.send(endpoints.changePassword(current, next), { renew: true });
        return null;
      } catch (err) {
        return err instanceof ApiError ? err : new ApiError(0, String(err));
      }
    },
    [api],
  );

  const dismissNotice = useCallback(() => setNotice(null), []);
  const isSupervisor = !!me && SUPERVISORS.has(me.role);
  const waitingCount = useMemo(() => queue.filter((q) => q.status === "open").length, [queue]);

  return {
    me,
    isSupervisor,
    queue,
    waitingCount,
    unread,
    openId,
    detail: openId !== null ? (details[openId] ?? null) : null,
    transcript: openId !== null ? (transcripts[openId] ?? []) : [],
    loading: openId !== null && loadingId === openId && !details[openId],
    pending: openId !== null ? (pending[openId] ?? []) : [],
    draft: openId !== null ? (drafts[openId] ?? "") : "",
    options,
    targets,
    connection,
    notice,
    busy,
    dismissNotice,
    open,
    accept,
    acceptOldest,
    send,
    transfer,
    close,
    setAvailability,
    refreshTargets,
    searchKb,
    findCustomers,
    linkCustomer,
    setDraft,
    insertIntoDraft,
    changePassword,
  };
}

export type Workspace = ReturnType<typeof useWorkspace>;
