// One message at a time: an error to read, or a confirmation that fades.
import { useEffect } from "preact/hooks";

import { useI18n } from "../i18n";
import type { Notice } from "../state/useWorkspace";

export function NoticeBar({ notice, onDismiss }: { notice: Notice | null; onDismiss: () => void }) {
  const { t } = useI18n();
  useEffect(() => {
    if (notice?.kind !== "info") return;
    const timer = setTimeout(onDismiss, 5000);
    return () => clearTimeout(timer);
  }, [notice, onDismiss]);
  if (!notice) return null;
  return (
    <div class={`notice notice-${notice.kind}`} role={notice.kind === "error" ? "alert" : "status"} data-testid="notice" data-kind={notice.kind}>
      <span>{notice.text}</span>
      <button type="button" class="ghost" onClick={onDismiss}>
        {t("dismiss")}
      </button>
    </div>
  );
}
