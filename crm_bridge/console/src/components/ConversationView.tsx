// The open conversation: header, transcript, composer and the actions on the handoff.
import type { Agent, CloseMode, HandoffDetail, HandoffOptions, TranscriptItem, TransferTarget } from "../api/types";
import { useI18n } from "../i18n";
import { apiLanguage } from "../state/format";
import type { PendingLine } from "../state/useWorkspace";
import { CloseControls } from "./CloseControls";
import { Composer } from "./Composer";
import { ConversationHeader } from "./ConversationHeader";
import { Transcript } from "./Transcript";
import { TransferControl } from "./TransferControl";

interface Props {
  me: Agent | null;
  isSupervisor: boolean;
  detail: HandoffDetail;
  transcript: TranscriptItem[];
  pending: PendingLine[];
  options: HandoffOptions;
  targets: TransferTarget[];
  draft: string;
  busy: boolean;
  onDraft: (text: string) => void;
  onSend: (text: string, internal: boolean) => Promise<boolean>;
  onAccept: () => void;
  onTransfer: (agentId: number) => void;
  onClose: (mode: CloseMode, resolutionCode: string | null) => void;
  onRefreshTargets: () => void;
}

export function ConversationView(props: Props) {
  const { t } = useI18n();
  const { me, isSupervisor, detail, busy } = props;
  const handoff = detail.handoff;
  const mine = !!me && handoff.agent_id === me.id;
  const canAct = handoff.status === "assigned" && (mine || isSupervisor);
  const readOnly =
    handoff.status === "open"
      ? t("readOnlyWaiting")
      : handoff.status !== "assigned"
        ? t("readOnlyClosed")
        : !canAct
          ? t("readOnlyOther", { name: handoff.agent_name ?? "—" })
          : null;

  return (
    <section class="conversation" data-testid="conversation" data-handoff-id={handoff.id} data-status={handoff.status}>
      <ConversationHeader handoff={handoff} customer={detail.customer} busy={busy} onAccept={props.onAccept} />
      <Transcript items={props.transcript} pending={props.pending} />
      <Composer
        draft={props.draft}
        language={apiLanguage(handoff.language)}
        cannedReplies={props.options.canned_replies}
        readOnlyReason={readOnly}
        onDraft={props.onDraft}
        onSend={props.onSend}
      />
      <div class="handoff-actions">
        <TransferControl
          targets={props.targets}
          currentAgentId={handoff.agent_id}
          disabled={!canAct || busy}
          onTransfer={props.onTransfer}
          onRefresh={props.onRefreshTargets}
        />
        <CloseControls codes={props.options.resolution_codes} disabled={!canAct || busy} onClose={props.onClose} />
      </div>
    </section>
  );
}
