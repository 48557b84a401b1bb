// Link the conversation's chat account to a customer record (one customer across channels).
import { useState } from "preact/hooks";
import type { CustomerHit } from "../api/types";
import { useI18n } from "../i18n";

interface Props {
  onSearch: (q: string) => Promise<CustomerHit[] | null>;
  onLink: (customerId: number) => void;
}

export function CustomerLink({ onSearch, onLink }: Props) {
  const { t, label } = useI18n();
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<CustomerHit[] | null>(null);
  const [busy, setBusy] = useState(false);

  const search = async (event: Event) => {
    event.preventDefault();
    if (!query.trim()) return;
    setBusy(true);
    setHits(await onSearch(query.trim()));
    setBusy(false);
  };

  return (
    <div class="customer-link">
      <h4>{t("linkTitle")}</h4>
      <form class="row" onSubmit={search}>
        <input
          data-testid="link-search-input"
          value={query}
          placeholder={t("linkPlaceholder")}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
        <button type="submit" data-testid="link-search-button" disabled={busy || !query.trim()}>
          {t("linkSearch")}
        </button>
      </form>
      {hits && hits.length === 0 && <p class="muted">{t("linkNone")}</p>}
      {hits && hits.length > 0 && (
        <ul class="link-results">
          {hits.map((hit) => (
            <li key={hit.id} data-testid="link-result">
              <span>
                {hit.name ?? `#${hit.id}`} · {label("tier", hit.tier)}
              </span>
              <button type="button" class="small" data-testid="link-button" onClick={() => onLink(hit.id)}>
                {t("linkButton")}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
