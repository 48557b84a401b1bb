// Search the knowledge base in the conversation's language and insert an answer.
import { useState } from "preact/hooks";

import type { KbHit, Language } from "../api/types";
import { useI18n } from "../i18n";
import { formatNumber } from "../state/format";

interface Props {
  language: Language;
  onSearch: (q: string, language: Language) => Promise<KbHit[] | null>;
  onInsert: (answer: string) => void;
}

export function KbSearch({ language, onSearch, onInsert }: Props) {
  const { t, locale } = useI18n();
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<KbHit[] | null>(null);
  const [busy, setBusy] = useState(false);

  const search = async (event: Event) => {
    event.preventDefault();
    const q = query.trim();
    if (!q || busy) return;
    setBusy(true);
    const found = await onSearch(q, language);
    setBusy(false);
    if (found) setHits(found);
  };

  return (
    <section class="panel kb" data-testid="kb-search">
      <h3>{t("kbTitle")}</h3>
      <form class="kb-form" onSubmit={search}>
        <input
          type="search"
          data-testid="kb-search-input"
          placeholder={t("kbPlaceholder")}
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
        <button type="submit" data-testid="kb-search-button" disabled={busy || !query.trim()}>
          {busy ? t("kbSearching") : t("kbSearch")}
        </button>
      </form>
      {hits !== null && (
        <ul class="kb-results" data-testid="kb-results">
          {hits.length === 0 && <li class="muted">{t("kbNoResults")}</li>}
          {hits.map((hit) => (
            <li key={hit.entry_id} class="kb-result" data-testid="kb-result" data-entry-id={hit.entry_id}>
              <div class="kb-question">
                <strong>{hit.question}</strong>
                <span class="muted small">{t("kbScore", { score: formatNumber(hit.score, locale, 2) })}</span>
              </div>
              <p class="kb-answer">{hit.answer}</p>
              <button type="button" class="small" data-testid="kb-insert" title={t("kbInsertTitle")} onClick={() => onInsert(hit.answer)}>
                {t("kbInsert")}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
