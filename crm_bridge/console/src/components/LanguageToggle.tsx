// Switches the UI between Chinese and English (remembered in localStorage).
import { useI18n } from "../i18n";

export function LanguageToggle() {
  const { locale, setLocale, t } = useI18n();
  return (
    <button
      type="button"
      class="ghost language-toggle"
      data-testid="language-toggle"
      data-locale={locale}
      title={t("switchLanguage")}
      aria-label={t("switchLanguage")}
      onClick={() => setLocale(locale === "zh" ? "en" : "zh")}
    >
      {t("otherLanguageName")}
    </button>
  );
}
