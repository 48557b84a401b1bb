// The log-in session as the console holds it: the access token in memory only (never in web
// storage, where any script of the page could read it), renewed silently through the HttpOnly
// refresh cookie before it expires, on page load, and after a 401. The refresh cookie is
// rotated at each renewal, so two tabs must not renew at once: they take turns (Web Locks).

/** What a log-in or a refresh answers. */
export interface IssuedToken {
  access_token: string;
  expires_in?: number | null;
}

/** Seconds an access token lasts: `expires_in`, else the JWT's own `exp - iat`, else 15 min. */
export function lifetimeSeconds(issued: IssuedToken): number {
  if (typeof issued.expires_in === "number" && issued.expires_in > 0) return issued.expires_in;
  const claims = jwtClaims(issued.access_token);
  if (claims && typeof claims.exp === "number" && typeof claims.iat === "number" && claims.exp > claims.iat) {
    return claims.exp - claims.iat;
  }
  return 15 * 60;
}

/** The (unverified) claims of a JWT, or null when it is not one. */
export function jwtClaims(token: string): Record<string, unknown> | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const json = JSON.parse(atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "=")));
    return json && typeof json === "object" ? (json as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** When to renew a token of `lifetime` seconds: a minute early (a fifth early when short). */
export function renewDelayMs(lifetime: number): number {
  const ms = lifetime * 1000;
  return Math.max(1000, ms - Math.min(60_000, ms / 5));
}

/** How a renewal went: renewed, refused (the session is over), or the bridge was unreachable. */
export type RefreshOutcome = "ok" | "refused" | "unreachable";

/** Retry after an unreachable bridge this long after (the token may still be good meanwhile). */
export const UNREACHABLE_RETRY_MS = 5000;

export interface SessionDeps {
  /**
   * Ask the bridge for a new access token (the cookie goes along): the token, or null when the
   * bridge refused (no live session). Throws when the bridge could not be reached.
   */
  refresh: () => Promise<IssuedToken | null>;
  /** Called after every decided outcome: the new token, or null when the session is over. */
  onChange: (token: string | null) => void;
  /** Run `task` while holding the cross-tab refresh lock (Web Locks), if the browser has it. */
  exclusive?: <T>(task: () => Promise<T>) => Promise<T>;
  setTimer?: (callback: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** Web Locks when available (secure contexts), else no cross-tab coordination. */
export function webLock<T>(task: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  return locks ? locks.request("csa-console-refresh", task) : task();
}

export class AuthSession {
  private token: string | null = null;
  private timer: unknown = null;
  private inflight: Promise<RefreshOutcome> | null = null;
  private readonly deps: Required<SessionDeps>;

  constructor(deps: SessionDeps) {
    this.deps = {
      exclusive: webLock,
      setTimer: (callback, ms) => setTimeout(callback, ms),
      clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      ...deps,
    };
  }

  /** The current access token (memory only). */
  get accessToken(): string | null {
    return this.token;
  }

  /** Take a freshly issued token (log-in, refresh) and plan its renewal. */
  accept(issued: IssuedToken): void {
    this.token = issued.access_token;
    this.schedule(renewDelayMs(lifetimeSeconds(issued)));
    this.deps.onChange(this.token);
  }

  /**
   * Renew the access token now; concurrent callers share one request. When the bridge refuses,
   * the session is over (the token is dropped); when it cannot be reached, the token is kept
   * and the renewal is tried again shortly.
   */
  refresh(): Promise<RefreshOutcome> {
    if (!this.inflight) {
      this.inflight = this.deps
        .exclusive(() => this.deps.refresh())
        .then(
          (issued): RefreshOutcome => {
            if (issued && typeof issued.access_token === "string" && issued.access_token) {
              this.accept(issued);
              return "ok";
            }
            this.end();
            return "refused";
          },
          (): RefreshOutcome => {
            this.schedule(UNREACHABLE_RETRY_MS);
            return "unreachable";
          },
        )
        .finally(() => {
          this.inflight = null;
        });
    }
    return this.inflight;
  }

  /** Forget the token (logged out, or the session ended) without telling anyone. */
  clear(): void {
    this.unschedule();
    this.token = null;
  }

  /** The session is over: forget the token and say so. */
  end(): void {
    this.clear();
    this.deps.onChange(null);
  }

  private schedule(ms: number): void {
    this.unschedule();
    this.timer = this.deps.setTimer(() => {
      this.timer = null;
      void this.refresh();
    }, ms);
  }

  private unschedule(): void {
    if (this.timer !== null) this.deps.clearTimer(this.timer);
    this.timer = null;
  }
}
