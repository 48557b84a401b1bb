// Namespaced key-value storage: localStorage (shared by the site's tabs, kept across reloads),
// with an in-memory fallback when the browser refuses storage (private modes, blocked
// cookies). Keys are `csa:<siteId>:<name>`.

export interface KeyValue {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
}

export function memoryStore(): KeyValue {
  const data = new Map<string, string>();
  return {
    get: (key) => data.get(key) ?? null,
    set: (key, value) => void data.set(key, value),
    remove: (key) => void data.delete(key),
  };
}

/** `window.localStorage` (or `sessionStorage`), or memory when it cannot be used. */
export function browserStore(kind: "localStorage" | "sessionStorage" = "localStorage"): KeyValue {
  const fallback = memoryStore();
  let storage: Storage | null = null;
  try {
    storage = window[kind];
    const probe = "csa:probe";
    storage.setItem(probe, "1");
    storage.removeItem(probe);
  } catch {
    storage = null;
  }
  if (storage === null) return fallback;
  const real = storage;
  return {
    get(key) {
      try {
        return real.getItem(key);
      } catch {
        return fallback.get(key);
      }
    },
    set(key, value) {
      try {
        real.setItem(key, value);
      } catch {
        fallback.set(key, value); // quota exceeded: keep it for this page at least
      }
    },
    remove(key) {
      try {
        real.removeItem(key);
      } catch {
        /* nothing to do */
      }
      fallback.remove(key);
    },
  };
}

export class SiteStore {
  constructor(
    readonly kv: KeyValue,
    readonly siteId: string,
  ) {}

  key(name: string): string {
    return `csa:${this.siteId}:${name}`;
  }

  get(name: string): string | null {
    return this.kv.get(this.key(name));
  }

  set(name: string, value: string): void {
    this.kv.set(this.key(name), value);
  }

  remove(name: string): void {
    this.kv.remove(this.key(name));
  }

  getJSON(name: string): unknown {
    const raw = this.get(name);
    if (raw === null) return null;
    try {
      return JSON.parse(raw);
    } catch {
      return null;
    }
  }

  setJSON(name: string, value: unknown): void {
    this.set(name, JSON.stringify(value));
  }

  /** A stored string → string map (anything else reads as empty). */
  getMap(name: string): Record<string, string> {
    const value = this.getJSON(name);
    if (!value || typeof value !== "object" || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === "string"));
  }

  /** Set one key of a stored map, keeping only the `max` most recently set keys. */
  remember(name: string, key: string, value: string, max = 50): void {
    const entries = Object.entries(this.getMap(name)).filter(([k]) => k !== key);
    this.setJSON(name, Object.fromEntries([...entries, [key, value]].slice(-max)));
  }
}
