// Pure request builders: what to call, never how. Tested without a network.
import type { Availability, CloseMode, Language, NewAgent } from "./types";

export const API_PREFIX = "/api/v1";

export type Method = "GET" | "POST" | "PUT";

export interface ApiRequest {
  method: Method;
  path: string;
  params?: Record<string, string>;
  /** JSON body. */
  json?: unknown;
  /** application/x-www-form-urlencoded body (the OAuth2 password form). */
  form?: Record<string, string>;
  /** Extra headers. */
  headers?: Record<string, string>;
}

/**
 * Sent with the calls the refresh cookie authenticates: a page of another site cannot add it
 * to a cross-site form, so those calls cannot be forged (the bridge refuses them without it).
 */
export const REQUESTED_WITH = { "X-Requested-With": "csa-console" } as const;

const handoff = (id: number) => `/handoff/${encodeURIComponent(String(id))}`;
const agent = (id: number) => `/agents/${encodeURIComponent(String(id))}`;

export const endpoints = {
  login: (username: string, password: string): ApiRequest => ({
    method: "POST",
    path: "/login/access-token",
    form: { username, password },
  }),
  /** A new access token for the session of the refresh cookie (which is rotated). */
  refresh: (): ApiRequest => ({ method: "POST", path: "/login/refresh", headers: { ...REQUESTED_WITH } }),
  /** End this session (the bearer token names it; the cookie does when the token expired). */
  logout: (): ApiRequest => ({ method: "POST", path: "/login/logout", headers: { ...REQUESTED_WITH } }),
  me: (): ApiRequest => ({ method: "GET", path: "/agents/me" }),
  changePassword: (currentPassword: string, newPassword: string): ApiRequest => ({
    method: "PUT",
    path: "/agents/me/password",
    json: { current_password: currentPassword, new_password: newPassword },
  }),
  agents: (): ApiRequest => ({ method: "GET", path: "/agents" }),
  createAgent: (agent: NewAgent): ApiRequest => ({ method: "POST", path: "/agents", json: agent }),
  deactivateAgent: (id: number): ApiRequest => ({ method: "POST", path: `${agent(id)}/deactivate` }),
  reactivateAgent: (id: number): ApiRequest => ({ method: "POST", path: `${agent(id)}/reactivate` }),
  /** Set a password, or have one generated (answered once) when `newPassword` is null. */
  resetPassword: (id: number, newPassword: string | null): ApiRequest => ({
    method: "POST",
    path: `${agent(id)}/password`,
    json: newPassword ? { new_password: newPassword } : {},
  }),
  logoutAgent: (id: number): ApiRequest => ({ method: "POST", path: `${agent(id)}/logout` }),
  setAvailability: (availability: Availability): ApiRequest => ({
    method: "PUT",
    path: "/agents/me/availability",
    json: { availability },
  }),
  transferTargets: (): ApiRequest => ({ method: "GET", path: "/handoff/agents" }),
  queue: (): ApiRequest => ({ method: "GET", path: "/handoff/queue" }),
  options: (): ApiRequest => ({ method: "GET", path: "/handoff/options" }),
  handoff: (id: number): ApiRequest => ({ method: "GET", path: handoff(id) }),
  accept: (id: number): ApiRequest => ({ method: "POST", path: `${handoff(id)}/accept` }),
  reply: (id: number, text: string): ApiRequest => ({
    method: "POST",
    path: `${handoff(id)}/messages`,
    json: { text },
  }),
  note: (id: number, text: string): ApiRequest => ({
    method: "POST",
    path: `${handoff(id)}/notes`,
    json: { text },
  }),
  transfer: (id: number, agentId: number): ApiRequest => ({
    method: "POST",
    path: `${handoff(id)}/transfer`,
    json: { agent_id: agentId },
  }),
  close: (id: number, mode: CloseMode, resolutionCode: string | null): ApiRequest => ({
    method: "POST",
    path: `${handoff(id)}/close`,
    json: resolutionCode ? { mode, resolution_code: resolutionCode } : { mode },
  }),
  searchCustomers: (q: string): ApiRequest => ({
    method: "GET",
    path: "/customers",
    params: { q, limit: "5" },
  }),
  linkIdentity: (customerId: number, channel: string, externalId: string): ApiRequest => ({
    method: "POST",
    path: `/customers/${encodeURIComponent(String(customerId))}/identities`,
    json: { channel, external_id: externalId, verified: true },
  }),
  kbSearch: (q: string, language: Language): ApiRequest => ({
    method: "GET",
    path: "/kb/search",
    params: { q, language },
  }),
};

/** The URL of a request, relative to the page's origin. */
export function requestUrl(req: ApiRequest): string {
  const query = req.params ? `?${new URLSearchParams(req.params).toString()}` : "";
  return `${API_PREFIX}${req.path}${query}`;
}

/**
 * The console WebSocket URL for a page at `location`. No token in it: URLs end up in access
 * logs, so the token goes in the first frame (`authFrame` in socket.ts).
 */
export function socketUrl(location: { protocol: string; host: string }): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${API_PREFIX}/console/ws`;
}

/** The longest reply the bridge accepts. */
export const MAX_REPLY_CHARS = 4000;
