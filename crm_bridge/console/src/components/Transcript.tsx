// The whole conversation, bot and customer turns included; follows new lines at the bottom.
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";

import type { TranscriptItem } from "../api/types";
import { useI18n } from "../i18n";
import type { PendingLine } from "../state/useWorkspace";
import { TranscriptLine } from "./TranscriptLine";

interface Props {
  items: TranscriptItem[];
  pending: PendingLine[];
}

/** Within this many pixels of the bottom, new lines scroll into view. */
const STICKY_PX = 80;

export function Transcript({ items, pending }: Props) {
  const { t } = useI18n();
  const box = useRef<HTMLOListElement>(null);
  const atBottom = useRef(true);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const onScroll = () => {
      atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICKY_PX;
    };
    el.addEventListener("scroll", onScroll, { passive: true });
    return () => el.removeEventListener("scroll", onScroll);
  }, []);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [items, pending]);

  return (
    <ol class="transcript" ref={box} data-testid="transcript" aria-live="polite">
      {items.map((item) => (
        <TranscriptLine key={item.id} item={item} />
      ))}
      {pending.map((line) => (
        <li
          key={line.key}
          class={`line line-agent pending${line.internal ? " internal" : ""}`}
          data-testid="pending-line"
        >
          <div class="line-head">
            <span class="speaker">{line.internal ? t("internalNote") : t("sending")}</span>
          </div>
          <p class="line-text">{line.text}</p>
        </li>
      ))}
    </ol>
  );
}
