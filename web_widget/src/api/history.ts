// The conversation so far, from the bridge: fetched once at start, before the socket connects.

import { historyEndpoint } from "./endpoints.ts";

export type Role = "customer" | "bot" | "agent" | "system";

export interface HistoryLine {
  id: string;
  role: Role;
  text: string;
  at: string | null;
  agentName: string | null;
  kbEntryId: string | null;
}

const ROLES: ReadonlySet<string> = new Set(["customer", "bot", "agent", "system"]);
export const HISTORY_TIMEOUT_MS = 8000;

const optional = (value: unknown): string | null => (typeof value === "string" && value ? value : null);

/** The `data` of the history answer; lines without text or with an unknown role are skipped. */
export function parseHistory(body: unknown): HistoryLine[] {
  const data = body && typeof body === "object" ? (body as { data?: unknown }).data : undefined;
  if (!Array.isArray(data)) throw new Error("history: no data array");
  const lines: HistoryLine[] = [];
  for (const raw of data) {
    if (!raw || typeof raw !== "object") continue;
    const line = raw as Record<string, unknown>;
    if (typeof line.role !== "string" || !ROLES.has(line.role)) continue;
    if (typeof line.text !== "string" || !line.text.trim()) continue;
    lines.push({
      id: `h-${String(line.id ?? lines.length)}`,
      role: line.role as Role,
      text: line.text,
      at: optional(line.at),
      agentName: optional(line.agent_name),
      kbEntryId: optional(line.kb_entry_id),
    });
  }
  return lines;
}

/**
 * Fetch and parse the history of the session `token`. 401 (the token is not valid) gives no
 * history: the socket will be issued a new session. Rejects on network errors, other non-2xx
 * answers and timeouts.
 */
export async function fetchHistory(
  bridgeUrl: string,
  token: string,
  fetchImpl: typeof fetch = fetch,
  timeoutMs = HISTORY_TIMEOUT_MS,
): Promise<HistoryLine[]> {
  const controller = typeof AbortController === "function" ? new AbortController() : null;
  const timer = setTimeout(() => controller?.abort(), timeoutMs);
  try {
    const { url, headers } = historyEndpoint(bridgeUrl, token);
    const response = await fetchImpl(url, {
      credentials: "omit",
      headers: { Accept: "application/json", ...headers },
      signal: controller?.signal,
    });
    if (response.status === 401) return [];
    if (!response.ok) throw new Error(`history: HTTP ${response.status}`);
    return parseHistory(await response.json());
  } finally {
    clearTimeout(timer);
  }
}
