// Client routes under the app's base (/console/): "" (queue), "handoffs/<id>" and "agents"
// (admins' agents page).
// Vite sets the base; outside Vite (node's test runner) it is the console's usual one.
const BASE: string = import.meta.env?.BASE_URL ?? "/console/";

export function handoffIdFromPath(pathname: string, base: string = BASE): number | null {
  if (!pathname.startsWith(base)) return null;
  const match = /^handoffs\/(\d+)\/?$/.exec(pathname.slice(base.length));
  return match ? Number(match[1]) : null;
}

export function pathForHandoff(id: number | null, base: string = BASE): string {
  return id === null ? base : `${base}handoffs/${id}`;
}

/** Show `id` in the address bar (so a reload reopens it) without reloading. */
export function showHandoffInUrl(id: number | null): void {
  const path = pathForHandoff(id);
  if (window.location.pathname !== path) window.history.pushState({ handoffId: id }, "", path);
}

/** Whether `pathname` is the admins' agents page. */
export function isAgentsPath(pathname: string, base: string = BASE): boolean {
  return /^agents\/?$/.test(pathname.startsWith(base) ? pathname.slice(base.length) : "");
}

/** Show the agents page (or, leaving it, the conversation `openId`) in the address bar. */
export function showAgentsInUrl(show: boolean, openId: number | null): void {
  const path = show ? `${BASE}agents` : pathForHandoff(openId);
  if (window.location.pathname !== path) window.history.pushState({ agents: show }, "", path);
}
