// The admins' agents page: the list and what can be done to an account. Every action ends in
// a notice; a generated password is kept here only until the next action (shown once).
import { useCallback, useEffect, useState } from "preact/hooks";

import { ApiError, type ApiClient } from "../api/client";
import { endpoints } from "../api/endpoints";
import type { Agent, DataList, NewAgent, PasswordResetResult, SessionsEnded } from "../api/types";
import { useI18n } from "../i18n";

export interface AgentsNotice {
  kind: "error" | "info";
  text: string;
  /** A generated password, shown once with the notice. */
  secret?: string;
}

export function useAgents(api: ApiClient) {
  const { t } = useI18n();
  const [agents, setAgents] = useState<Agent[] | null>(null);
  const [notice, setNotice] = useState<AgentsNotice | null>(null);
  const [busy, setBusy] = useState(false);

  const fail = useCallback(
    (err: unknown) => {
      const detail = err instanceof ApiError ? err.detail : String(err);
      const text = err instanceof ApiError && err.status === 0 ? t("errorNetwork") : t("errorGeneric", { detail });
      setNotice({ kind: "error", text });
    },
    [t],
  );

  const load = useCallback(async () => {
    try {
      const list = await api.send<DataList<Agent>>(endpoints.agents());
      setAgents(list?.data ?? []);
    } catch (err) {
      fail(err);
    }
  }, [api, fail]);

  useEffect(() => {
    void load();
  }, [load]);

  /** Run one action, then say how it went and reload the list; false when it failed. */
  const run = useCallback(
    async (action: () => Promise<AgentsNotice>): Promise<boolean> => {
      setBusy(true);
      setNotice(null);
      try {
        setNotice(await action());
        return true;
      } catch (err) {
        fail(err);
        return false;
      } finally {
        setBusy(false);
        void load();
      }
    },
    [fail, load],
  );

  const deactivate = (agent: Agent) =>
    run(async () => {
      await api.send<Agent>(endpoints.deactivateAgent(agent.id));
      return { kind: "info", text: t("agentDeactivatedNotice", { name: agent.name }) };
    });

  const reactivate = (agent: Agent) =>
    run(async () => {
      await api.send<Agent>(endpoints.reactivateAgent(agent.id));
      return { kind: "info", text: t("agentReactivated", { name: agent.name }) };
    });

  const resetPassword = (agent: Agent, password: string | null) =>
    run(async () => {
      const result = await api.send<PasswordResetResult>(endpoints.resetPassword(agent.id, password));
      if (result.generated_password) {
        return { kind: "info", text: t("agentPasswordGenerated", { name: agent.name }), secret: result.generated_password };
      }
      return { kind: "info", text: t("agentPasswordSet", { name: agent.name, count: result.sessions_ended }) };
    });

  const logoutEverywhere = (agent: Agent) =>
    run(async () => {
      const result = await api.send<SessionsEnded>(endpoints.logoutAgent(agent.id));
      return { kind: "info", text: t("agentLoggedOut", { name: agent.name, count: result.sessions_ended }) };
    });

  const create = (agent: NewAgent) =>
    run(async () => {
      const made = await api.send<Agent>(endpoints.createAgent(agent));
      return { kind: "info", text: t("agentCreated", { name: made.name, login: made.login }) };
    });

  return {
    agents,
    notice,
    busy,
    dismiss: () => setNotice(null),
    deactivate,
    reactivate,
    resetPassword,
    logoutEverywhere,
    create,
  };
}
