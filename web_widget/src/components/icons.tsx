// Inline SVG icons (JSX elements: no markup strings, nothing fetched).

const svg = { width: 24, height: 24, viewBox: "0 0 24 24", "aria-hidden": "true" as const, focusable: "false" };

export const ChatIcon = () => (
  <svg {...svg}>
    <path
      fill="currentColor"
      d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-4.5 3.6A.9.9 0 0 1 3 20.9V6a2 2 0 0 1 1-2zm3 6a1.3 1.3 0 1 0 0 2.6A1.3 1.3 0 0 0 7 10zm5 0a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6zm5 0a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6z"
    />
  </svg>
);

export const CloseIcon = () => (
  <svg {...svg}>
    <path fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" d="M6 6l12 12M18 6L6 18" />
  </svg>
);

export const MinimiseIcon = () => (
  <svg {...svg}>
    <path fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" d="M6 12h12" />
  </svg>
);

export const SendIcon = () => (
  <svg {...svg}>
    <path fill="currentColor" d="M3.4 20.4l17.5-7.5a1 1 0 0 0 0-1.8L3.4 3.6a.7.7 0 0 0-1 .8L4.5 11l9 1-9 1-2.1 6.6a.7.7 0 0 0 1 .8z" />
  </svg>
);

export const ClockIcon = () => (
  <svg {...svg} width={12} height={12}>
    <circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2.4" />
    <path fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" d="M12 7v5l3 2" />
  </svg>
);

/** A thumb up; `down` turns it over. Drawn, not an emoji: no emoji font needed. */
export const ThumbIcon = ({ down = false }: { down?: boolean }) => (
  <svg {...svg} width={18} height={18}>
    <g transform={down ? "rotate(180 12 12)" : undefined} fill="currentColor">
      <path d="M2 10h4v11H2z" />
      <path d="M8 10l4.2-7.6c1.6.1 2.5 1.4 2.1 3L13.6 9H20a2 2 0 0 1 2 2.3l-1.3 7.4A2.8 2.8 0 0 1 18 21H8z" />
    </g>
  </svg>
);
