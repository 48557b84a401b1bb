// `window.CSAWidgetConfig` → a checked configuration (pure: no DOM access here).
// Bad values fall back to the default with a warning rather than breaking the host page.

export type Language = "zh" | "en";
export type Position = "left" | "right";

/**
 * A customer signed in on the host site, signed by the shop's server:
 * `hash` = hex(HMAC-SHA256(site secret, `${id}:${expires}`)).
 */
export interface SignedUser {
  id: string;
  /** Unix seconds after which the server refuses the claim. */
  expires: number;
  hash: string;
}

export interface WidgetConfig {
  /** Rasa server; socket.io lives at `${rasaUrl}/socket.io`. */
  rasaUrl: string;
  /** CRM bridge (history API). */
  bridgeUrl: string;
  /** Namespaces everything the widget keeps in localStorage. */
  siteId: string;
  language: Language | "auto";
  /** Accent colour (#rgb or #rrggbb) and the text colour that reads on it. */
  themeColor: string;
  themeText: string;
  position: Position;
  user: SignedUser | null;
}

export const DEFAULT_THEME = "#d9363e";
export const DEFAULT_SITE = "default";
export const RASA_DEFAULT_PORT = "5005";

const SITE_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const HEX_COLOUR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
const HEX = /^[0-9a-f]{1,128}$/i;
/** Beyond this, `expires` is surely milliseconds (`Date.now()`), not seconds (year 5138). */
const SECONDS_LIMIT = 1e11;

export interface ResolvedConfig {
  config: WidgetConfig;
  warnings: string[];
}

function httpUrl(value: string): string | null {
  try {
    const url = new URL(value);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    return url.href.replace(/\/+$/, "");
  } catch {
    return null;
  }
}

/** `#fff` for dark accents, a near-black for light ones (WCAG relative luminance). */
export function textOn(hex: string): string {
  const full = hex.length === 4 ? [...hex.slice(1)].map((c) => c + c).join("") : hex.slice(1);
  const channels = [0, 2, 4].map((i) => {
    const c = parseInt(full.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
  // Contrast with white vs with #1f2328 (luminance ≈ 0.016): pick the larger.
  return (1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.066) ? "#ffffff" : "#1f2328";
}

export interface UserCheck {
  /** The claim to send (null: anonymous). */
  user: SignedUser | null;
  /** Why the value cannot be used (the visitor stays anonymous), or null. */
  error: string | null;
  /** Usable, but worth telling the page's developer (an expired claim is still sent). */
  warnings: string[];
}

const shown = (value: unknown): string =>
  typeof value === "string" ? JSON.stringify(value) : value === null ? "null" : String(value);

/**
 * Check a signed user `{id, expires, hash}` (the `user` option, `CSAWidget.setUser`).
 * null / undefined is the anonymous visitor. The server decides whether the claim is good;
 * this only catches what cannot be one.
 *
 * @param nowSeconds the current unix time (an expired claim gets a warning).
 */
export function checkUser(raw: unknown, nowSeconds = Date.now() / 1000): UserCheck {
  const refuse = (error: string): UserCheck => ({ user: null, error, warnings: [] });
  if (raw === undefined || raw === null) return { user: null, error: null, warnings: [] };
  if (typeof raw !== "object" || Array.isArray(raw)) {
    return refuse("user must be {id: string, expires: unix seconds, hash: hex string}");
  }
  const u = raw as Record<string, unknown>;
  if (typeof u.id !== "string" || !u.id || u.id.length > 255) {
    return refuse("user.id must be a string of 1-255 characters");
  }
  if (typeof u.expires !== "number" || !Number.isSafeInteger(u.expires) || u.expires <= 0) {
    return refuse(`user.expires must be a positive integer (unix seconds), not ${shown(u.expires)}`);
  }
  if (typeof u.hash !== "string" || !HEX.test(u.hash)) {
    return refuse('user.hash must be the hex HMAC-SHA256 of "<id>:<expires>" with the site secret');
  }
  const user: SignedUser = { id: u.id, expires: u.expires, hash: u.hash };
  const warnings: string[] = [];
  if (user.expires >= SECONDS_LIMIT) {
    warnings.push(`user.expires ${user.expires} looks like milliseconds; it is unix seconds`);
  } else if (user.expires <= nowSeconds) {
    const at = new Date(user.expires * 1000).toISOString();
    warnings.push(`the signed user expired at ${at}; sign a fresh one when rendering the page`);
  }
  return { user, error: null, warnings };
}

/**
 * The argument of `CSAWidget.setUser`: a signed user or null (anonymous from now on).
 * Throws a TypeError on anything else; returns the warnings for the console.
 */
export function userArgument(
  value: unknown,
  nowSeconds = Date.now() / 1000,
): { user: SignedUser | null; warnings: string[] } {
  if (value === undefined) {
    throw new TypeError("CSAWidget.setUser: a signed user {id, expires, hash}, or null for an anonymous visitor");
  }
  const { user, error, warnings } = checkUser(value, nowSeconds);
  if (error) throw new TypeError(`CSAWidget.setUser: ${error}`);
  return { user, warnings };
}

/**
 * Check the host page's configuration.
 *
 * @param raw `window.CSAWidgetConfig` (anything).
 * @param scriptSrc the URL widget.js was loaded from (null when unknown).
 * @param pageUrl the host page's URL (resolves a relative script URL; last-resort origin).
 * @param nowSeconds the current unix time (to warn about an expired signed user).
 */
export function resolveConfig(
  raw: unknown,
  scriptSrc: string | null,
  pageUrl: string,
  nowSeconds = Date.now() / 1000,
): ResolvedConfig {
  const warnings: string[] = [];
  const given = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  if (raw !== undefined && raw !== null && typeof raw !== "object") {
    warnings.push("CSAWidgetConfig must be an object; using the defaults");
  }

  let scriptOrigin: URL;
  try {
    scriptOrigin = new URL(scriptSrc || pageUrl, pageUrl);
  } catch {
    scriptOrigin = new URL(pageUrl);
  }

  const url = (name: string, fallback: string): string => {
    const value = given[name];
    if (value === undefined || value === null || value === "") return fallback;
    const checked = typeof value === "string" ? httpUrl(value) : null;
    if (checked === null) {
      warnings.push(`${name} must be an http(s) URL; using ${fallback}`);
      return fallback;
    }
    return checked;
  };
  const bridgeUrl = url("bridgeUrl", scriptOrigin.origin);
  const rasaUrl = url(
    "rasaUrl",
    `${scriptOrigin.protocol}//${scriptOrigin.hostname}:${RASA_DEFAULT_PORT}`,
  );

  let siteId = DEFAULT_SITE;
  if (given.siteId !== undefined) {
    if (typeof given.siteId === "string" && SITE_ID.test(given.siteId)) siteId = given.siteId;
    else warnings.push(`siteId must be 1-64 of A-Z a-z 0-9 _ . -; using "${DEFAULT_SITE}"`);
  }

  let language: WidgetConfig["language"] = "auto";
  if (given.language !== undefined) {
    if (given.language === "zh" || given.language === "en" || given.language === "auto") {
      language = given.language;
    } else warnings.push('language must be "zh", "en" or "auto"; using "auto"');
  }

  let themeColor = DEFAULT_THEME;
  if (given.themeColor !== undefined) {
    if (typeof given.themeColor === "string" && HEX_COLOUR.test(given.themeColor)) {
      themeColor = given.themeColor.toLowerCase();
    } else warnings.push(`themeColor must be #rgb or #rrggbb; using ${DEFAULT_THEME}`);
  }

  let position: Position = "right";
  if (given.position !== undefined) {
    if (given.position === "left" || given.position === "right") position = given.position;
    else warnings.push('position must be "left" or "right"; using "right"');
  }

  const checked = checkUser(given.user, nowSeconds);
  if (checked.error) warnings.push(`${checked.error}; the visitor stays anonymous`);
  warnings.push(...checked.warnings);
  const user = checked.user;

  return {
    config: { rasaUrl, bridgeUrl, siteId, language, themeColor, themeText: textOn(themeColor), position, user },
    warnings,
  };
}
