// Client routes under the app's base (/console/): "" (queue) and "handoffs/<id>".
const BASE = import.meta.env.BASE_URL;

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
