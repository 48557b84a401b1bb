// The one HTTP client: adds the bearer token, renews it once after a 401, parses JSON, turns
// failures into ApiError.
import { type ApiRequest, requestUrl } from "./endpoints.ts";

export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;

  constructor(status: number, detail: string) {
    super(`HTTP ${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

export interface ClientOptions {
  token: () => string | null;
  /**
   * Renew the access token after a 401 (the refresh cookie): "ok" retries the call once with
   * the new token; "refused" means the session is over.
   */
  refresh?: () => Promise<"ok" | "refused" | "unreachable">;
  /** Called when an authenticated call is refused and no renewal helps ("log in again"). */
  onUnauthorized: () => void;
}

function detailOf(body: unknown, fallback: string): string {
  if (body && typeof body === "object" && "detail" in body) {
    const detail = (body as { detail: unknown }).detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d) => (d && typeof d === "object" && "msg" in d ? String(d.msg) : String(d)))
        .join("; ");
    }
  }
  return fallback;
}

export class ApiClient {
  private readonly options: ClientOptions;

  constructor(options: ClientOptions) {
    this.options = options;
  }

  /**
   * Call the bridge. `authenticated` adds the bearer token; `renew` (with it) renews an
   * expired token once and retries, and reports a session that is over (`onUnauthorized`).
   */
  async send<T>(req: ApiRequest, { authenticated = true, renew = true } = {}): Promise<T> {
    try {
      return await this.attempt<T>(req, authenticated);
    } catch (err) {
      // An expired access token: renew it through the refresh cookie and try once more.
      if (!(err instanceof ApiError) || err.status !== 401 || !authenticated || !renew) throw err;
      const outcome = this.options.refresh ? await this.options.refresh() : "refused";
      if (outcome === "ok") {
        try {
          return await this.attempt<T>(req, authenticated);
        } catch (again) {
          if (again instanceof ApiError && again.status === 401) this.options.onUnauthorized();
          throw again;
        }
      }
      if (outcome === "refused") this.options.onUnauthorized();
      else throw new ApiError(0, "network error");
      throw err;
    }
  }

  private async attempt<T>(req: ApiRequest, authenticated: boolean): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json", ...req.headers };
    let body: string | undefined;
    if (req.form) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(req.form).toString();
    } else if (req.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(req.json);
    }
    const token = authenticated ? this.options.token() : null;
    if (token) headers.Authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await fetch(requestUrl(req), { method: req.method, headers, body });
    } catch {
      throw new ApiError(0, "network error");
    }
    const text = await response.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (!response.ok) {
      throw new ApiError(response.status, detailOf(parsed, response.statusText || "error"));
    }
    return parsed as T;
  }
}
