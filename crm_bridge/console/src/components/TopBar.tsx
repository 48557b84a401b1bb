// The bar across the top: who is logged in, presence, connection, language, shortcuts; the
// agents page (admins), password change and log-out.
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
  /** The agents page is shown (instead of the conversations). */
  agentsPage: boolean;
  onAvailability: (availability: Availability) => void;
  /** Admins only: show the agents page (true) or the conversations (false). */
  onAgentsPage: ((show: boolean) => void) | null;
  onChangePassword: () => void;
  onLogout: () => void;
}

export function TopBar(props: Props) {
  const { me, isSupervisor, connection, agentsPage, onAvailability, onAgentsPage } = props;
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
      {onAgentsPage && (
        <button
          type="button"
          class="ghost"
          data-testid="agents-nav"
          data-active={agentsPage ? "true" : "false"}
          onClick={() => onAgentsPage(!agentsPage)}
        >
          {agentsPage ? t("backToConversations") : t("agentsNav")}
        </button>
      )}
      <button type="button" class="ghost" data-testid="change-password-button" onClick={props.onChangePassword}>
        {t("changePassword")}
      </button>
      <button type="button" class="ghost" data-testid="logout-button" onClick={props.onLogout}>
        {t("logout")}
      </button>
    </header>
  );
}
