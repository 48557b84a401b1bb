// The live connection: connecting, live, or lost and retrying.
import { useI18n } from "../i18n";
import type { Connection } from "../state/useWorkspace";

export function ConnectionStatus({ connection }: { connection: Connection }) {
  const { t } = useI18n();
  const text =
    connection.state === "online"
      ? t("connectionOnline")
      : connection.state === "connecting"
        ? t("connectionConnecting")
        : connection.retryInMs !== null
          ? t("connectionRetry", { seconds: Math.max(1, Math.round(connection.retryInMs / 1000)) })
          : t("connectionReconnecting");
  return (
    <span class={`connection connection-${connection.state}`} data-testid="connection-status" data-state={connection.state} role="status">
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}
