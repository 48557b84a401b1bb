// Small display formatters (locale-aware where numbers and dates are concerned).
import type { Locale } from "../i18n/strings";

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = String(s % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

const intlLocale = (locale: Locale) => (locale === "zh" ? "zh-CN" : "en-GB");

export function formatTime(iso: string, locale: Locale): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleTimeString(intlLocale(locale), { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function formatDate(iso: string, locale: Locale): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleDateString(intlLocale(locale), { year: "numeric", month: "2-digit", day: "2-digit" });
}

export function formatNumber(value: number | string | null | undefined, locale: Locale, digits = 0): string {
  if (value === null || value === undefined || value === "") return "—";
  const n = typeof value === "number" ? value : Number(value);
  if (Number.isNaN(n)) return String(value);
  return n.toLocaleString(intlLocale(locale), { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function formatMoney(value: number | string | null | undefined, currency: string, locale: Locale): string {
  if (value === null || value === undefined || value === "") return "—";
  const n = typeof value === "number" ? value : Number(value);
  if (Number.isNaN(n)) return `${value} ${currency}`;
  try {
    return n.toLocaleString(intlLocale(locale), { style: "currency", currency: currency || "CNY" });
  } catch {
    return `${formatNumber(n, locale, 2)} ${currency}`;
  }
}

/** A score in [-1, 1] with its sign: "+0.42", "-0.80". */
export function formatScore(score: number | null | undefined): string {
  if (score === null || score === undefined || Number.isNaN(score)) return "—";
  return `${score > 0 ? "+" : ""}${score.toFixed(2)}`;
}

/** The conversation language as the API's kb/canned filter expects it. */
export function apiLanguage(language: string | null | undefined): "zh" | "en" {
  return language && language.toLowerCase().startsWith("zh") ? "zh" : "en";
}

/** The customer's name, else "Visitor <first characters of the sender id, or the handoff id>". */
export function customerName(
  handoff: { id: number; customer: { name: string | null } | null; sender_id: string | null },
  visitor: (id: string) => string,
): string {
  return handoff.customer?.name || visitor(handoff.sender_id ? handoff.sender_id.slice(0, 8) : `#${handoff.id}`);
}
