// The bar across the top: who is logged in, presence, connection, language, shortcuts.
import type { Agent, Availability } from "../api/types";
import { useI18n } from "../i18n";
import type { Connection } from "../state/useWorkspace";
import { AvailabilitySelect } from "./AvailabilitySelect";
import { ConnectionStatus } from "./ConnectionStatus";
import { LanguageToggle } from "./LanguageToggle";

interface Props {
  me: Agent | null;
  isSupervisor: boolean;
  connection: Connection;
  onAvailability: (availability: Availability) => void;
  onLogout: () => void;
}

export function TopBar({ me, isSupervisor, connection, onAvailability, onLogout }: Props) {
  const { t, label } = useI18n();
  return (
    <header class="topbar">
      <strong class="brand">{t("appTitle")}</strong>
      {isSupervisor && (
        <span class="badge supervisor" data-testid="supervisor-badge">
          {t("supervisorView")}
        </span>
      )}
      <span class="spacer" />
      <ConnectionStatus connection={connection} />
      {me && (
        <span class="whoami" data-testid="whoami">
          {me.name} · {label("role", me.role)}
        </span>
      )}
      <AvailabilitySelect value={me?.availability ?? null} onChange={onAvailability} />
      <span class="shortcuts" data-testid="shortcuts-help" title={t("shortcutsHelp")} aria-label={t("shortcutsHelp")} tabIndex={0}>
        ⌨
      </span>
      <LanguageToggle />
      <button type="button" class="ghost" data-testid="logout-button" onClick={onLogout}>
        {t("logout")}
      </button>
    </header>
  );
}
