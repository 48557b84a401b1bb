// `window.CSAWidgetConfig` → a checked configuration (pure: no DOM access here).
// Bad values fall back to the default with a warning rather than breaking the host page.

export type Language = "zh" | "en";
export type Position = "left" | "right";

export interface SignedUser {
  id: string;
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

/**
 * Check the host page's configuration.
 *
 * @param raw `window.CSAWidgetConfig` (anything).
 * @param scriptSrc the URL widget.js was loaded from (null when unknown).
 * @param pageUrl the host page's URL (resolves a relative script URL; last-resort origin).
 */
export function resolveConfig(raw: unknown, scriptSrc: string | null, pageUrl: string): ResolvedConfig {
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

  let user: SignedUser | null = null;
  if (given.user !== undefined && given.user !== null) {
    const u = given.user as Record<string, unknown>;
    if (
      typeof u === "object" &&
      typeof u.id === "string" &&
      u.id.length > 0 &&
      u.id.length <= 255 &&
      typeof u.hash === "string" &&
      HEX.test(u.hash)
    ) {
      user = { id: u.id, hash: u.hash };
    } else warnings.push("user must be {id: string, hash: hex string}; the visitor stays anonymous");
  }

  return {
    config: { rasaUrl, bridgeUrl, siteId, language, themeColor, themeText: textOn(themeColor), position, user },
    warnings,
  };
}
