// The bridge's password rules, checked before sending so the agent sees at once what is wrong
// (the bridge checks them again: crm_bridge/services/agent_accounts.py).
import type { MessageKey } from "../i18n/strings";

/** The bridge's default shortest password (CSA_BRIDGE_PASSWORD_MIN_LENGTH). */
export const MIN_PASSWORD_LENGTH = 10;

export interface PasswordCheck {
  /** The login the password belongs to (it must not be the password). */
  login: string;
  /** The second entry, when the form asks for one. */
  repeat?: string;
  /** The current password, when changing one's own. */
  current?: string;
  minLength?: number;
}

/** What is wrong with a new password (a message key), or null. */
export function passwordProblem(password: string, check: PasswordCheck): MessageKey | null {
  if (password.length < (check.minLength ?? MIN_PASSWORD_LENGTH)) return "passwordTooShort";
  if (!password.trim()) return "passwordOnlySpaces";
  if (password.trim().toLowerCase() === check.login.trim().toLowerCase()) return "passwordIsLogin";
  if (check.current !== undefined && password === check.current) return "passwordUnchanged";
  if (check.repeat !== undefined && password !== check.repeat) return "passwordsDiffer";
  return null;
}
