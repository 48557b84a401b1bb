// The logged-in console: top bar, queue | conversation | customer, context and KB; for admins
// the agents page instead of the columns.
import { useEffect, useState } from "preact/hooks";

import type { ApiClient } from "../api/client";
import type { AuthSession } from "../auth/session";
import { isAcceptShortcut } from "../hooks/shortcuts";
import { useI18n } from "../i18n";
import { apiLanguage } from "../state/format";
import { isAgentsPath, showAgentsInUrl } from "../route";
import { useWorkspace } from "../state/useWorkspace";
import { AgentsPage } from "./AgentsPage";
import { ChangePasswordDialog } from "./ChangePasswordDialog";
import { ContextPanel } from "./ContextPanel";
import { ConversationView } from "./ConversationView";
import { CustomerPanel } from "./CustomerPanel";
import { KbSearch } from "./KbSearch";
import { NoticeBar } from "./NoticeBar";
import { QueueList } from "./QueueList";
import { TopBar } from "./TopBar";

interface Props {
  api: ApiClient;
  auth: AuthSession;
  onLogout: () => void;
  /** The password was changed: every session has ended, the agent logs in again. */
  onPasswordChanged: () => void;
}

export function WorkspaceView({ api, auth, onLogout, onPasswordChanged }: Props) {
  const { t } = useI18n();
  const ws = useWorkspace(api, auth);
  const { detail, openId, acceptOldest, waitingCount } = ws;
  const [agentsPage, setAgentsPage] = useState(() => isAgentsPath(window.location.pathname));
  const [changingPassword, setChangingPassword] = useState(false);
  const isAdmin = ws.me?.role === "admin";

  useEffect(() => {
    const onPop = () => setAgentsPage(isAgentsPath(window.location.pathname));
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  const showAgents = (show: boolean) => {
    setAgentsPage(show);
    showAgentsInUrl(show, openId);
  };

  // Alt+A anywhere: accept the handoff that has waited longest.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isAcceptShortcut(e)) {
        e.preventDefault();
        acceptOldest();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [acceptOldest]);

  useEffect(() => {
    document.title = waitingCount > 0 ? `(${waitingCount}) ${t("appTitle")}` : t("appTitle");
  }, [waitingCount, t]);

  return (
    <div class="workspace">
      <TopBar
        me={ws.me}
        isSupervisor={ws.isSupervisor}
        connection={ws.connection}
        agentsPage={agentsPage && isAdmin}
        onAvailability={ws.setAvailability}
        onAgentsPage={isAdmin ? showAgents : null}
        onChangePassword={() => setChangingPassword(true)}
        onLogout={onLogout}
      />
      <NoticeBar notice={ws.notice} onDismiss={ws.dismissNotice} />
      {changingPassword && ws.me && (
        <ChangePasswordDialog
          login={ws.me.login}
          onSubmit={ws.changePassword}
          onDone={onPasswordChanged}
          onCancel={() => setChangingPassword(false)}
        />
      )}
      {agentsPage && isAdmin && ws.me ? (
        <AgentsPage api={api} me={ws.me} />
      ) : (
        <div class="columns">
          <QueueList
            queue={ws.queue}
            openId={openId}
            unread={ws.unread}
            busy={ws.busy}
            onOpen={ws.open}
            onAccept={ws.accept}
          />
          {detail && openId !== null ? (
            <>
              <ConversationView
                key={openId}
                me={ws.me}
                isSupervisor={ws.isSupervisor}
                detail={detail}
                transcript={ws.transcript}
                pending={ws.pending}
                options={ws.options}
                targets={ws.targets}
                draft={ws.draft}
                busy={ws.busy}
                onDraft={(text) => ws.setDraft(openId, text)}
                onSend={(text, internal) => ws.send(openId, text, internal)}
                onAccept={() => ws.accept(openId)}
                onTransfer={(agentId) => ws.transfer(openId, agentId)}
                onClose={(mode, code) => ws.close(openId, mode, code)}
                onRefreshTargets={ws.refreshTargets}
              />
              <aside class="side">
                <CustomerPanel
                  customer={detail.customer}
                  onSearch={ws.findCustomers}
                  onLink={(customerId) => ws.linkCustomer(openId, customerId)}
                />
                <ContextPanel context={detail.context} fallbackReason={detail.handoff.reason} />
                <KbSearch
                  key={openId}
                  language={apiLanguage(detail.handoff.language)}
                  onSearch={ws.searchKb}
                  onInsert={(answer) => ws.insertIntoDraft(openId, answer)}
                />
              </aside>
            </>
          ) : (
            <section class="conversation placeholder" data-testid="no-conversation">
              <p class="muted">{ws.loading ? t("loading") : t("noConversation")}</p>
              <p class="muted small">{t("shortcutsHelp")}</p>
            </section>
          )}
        </div>
      )}
    </div>
  );
}
