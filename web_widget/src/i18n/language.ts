// Which language the widget speaks: the customer's own choice (header toggle, remembered),
// else the configured one, else the page's <html lang>, else the browser's, else English.

import type { Language } from "../config.ts";
import type { SiteStore } from "../storage.ts";

export const LANGUAGE_KEY = "lang";

/** "zh-CN" → "zh", "en-GB" → "en", anything else → null. */
export function languageOf(tag: string | null | undefined): Language | null {
  const primary = (tag || "").trim().toLowerCase().split(/[-_]/)[0];
  return primary === "zh" || primary === "en" ? primary : null;
}

export interface LanguageSources {
  stored: string | null;
  configured: Language | "auto";
  htmlLang: string | null;
  navigatorLanguages: readonly string[];
}

export function pickLanguage(sources: LanguageSources): Language {
  const stored = languageOf(sources.stored);
  if (stored) return stored;
  if (sources.configured !== "auto") return sources.configured;
  const page = languageOf(sources.htmlLang);
  if (page) return page;
  for (const tag of sources.navigatorLanguages) {
    const found = languageOf(tag);
    if (found) return found;
  }
  return "en";
}

export function detectLanguage(store: SiteStore, configured: Language | "auto"): Language {
  return pickLanguage({
    stored: store.get(LANGUAGE_KEY),
    configured,
    htmlLang: document.documentElement.getAttribute("lang"),
    navigatorLanguages: navigator.languages?.length ? navigator.languages : [navigator.language],
  });
}

export function rememberLanguage(store: SiteStore, language: Language): void {
  store.set(LANGUAGE_KEY, language);
}
