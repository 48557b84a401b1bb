// The UI language: from localStorage, else navigator.language; switched by the toggle.
import { createContext, type ComponentChildren } from "preact";
import { useCallback, useContext, useEffect, useMemo, useState } from "preact/hooks";

import { dictionaries, format, type LabelGroup, type Locale, type MessageKey } from "./strings";

export const LOCALE_STORAGE_KEY = "csa-console-locale";

export function detectLocale(stored: string | null, browserLanguage: string | undefined): Locale {
  if (stored === "zh" || stored === "en") return stored;
  return browserLanguage && browserLanguage.toLowerCase().startsWith("zh") ? "zh" : "en";
}

function storedLocale(): string | null {
  try {
    return window.localStorage.getItem(LOCALE_STORAGE_KEY);
  } catch {
    return null;
  }
}

export interface I18n {
  locale: Locale;
  setLocale: (locale: Locale) => void;
  t: (key: MessageKey, vars?: Record<string, string | number>) => string;
  /** Label of an API code (reason, tier, status…), the code itself when unknown. */
  label: (group: LabelGroup, code: string | null | undefined) => string;
}

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ children }: { children: ComponentChildren }) {
  const [locale, setLocaleState] = useState<Locale>(() => detectLocale(storedLocale(), navigator.language));

  const setLocale = useCallback((next: Locale) => {
    setLocaleState(next);
    try {
      window.localStorage.setItem(LOCALE_STORAGE_KEY, next);
    } catch {
      /* private mode: the choice lasts for this page only */
    }
  }, []);

  useEffect(() => {
    document.documentElement.lang = locale === "zh" ? "zh-CN" : "en";
  }, [locale]);

  const value = useMemo<I18n>(() => {
    const { messages, labels } = dictionaries[locale];
    return {
      locale,
      setLocale,
      t: (key, vars) => format(messages[key], vars),
      label: (group, code) => (code ? (labels[group][code] ?? code) : "—"),
    };
  }, [locale, setLocale]);

  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error("useI18n outside <I18nProvider>");
  return value;
}
